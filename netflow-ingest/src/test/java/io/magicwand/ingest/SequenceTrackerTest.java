package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.magicwand.ingest.SequenceTracker.Result;
import org.junit.jupiter.api.Test;

class SequenceTrackerTest {

    @Test
    void countsGapsAndLostRecords() {
        SequenceTracker t = new SequenceTracker();
        assertEquals(Result.FIRST, t.observe(5));
        assertEquals(Result.IN_ORDER, t.observe(6));
        assertEquals(Result.GAP, t.observe(9));
        assertEquals(2, t.lastGapSize());
        assertEquals(Result.IN_ORDER, t.observe(10));
        assertEquals(Result.GAP, t.observe(20));
        assertEquals(2, t.gaps());
        assertEquals(11, t.lost());
    }

    @Test
    void wrapsAroundU32() {
        SequenceTracker t = new SequenceTracker();
        t.observe(0xffff_fffeL);
        assertEquals(Result.IN_ORDER, t.observe(0xffff_ffffL));
        assertEquals(Result.IN_ORDER, t.observe(0));
        assertEquals(0, t.gaps());
        t.observe(0xffff_fffdL - 0); // far behind: a restart, not 4 billion lost
        assertEquals(1, t.backwards());
        assertEquals(Result.GAP, t.observe(2)); // ...fffd -> ...fffe, ffff, 0, 1 missing
        assertEquals(4, t.lastGapSize());
    }

    @Test
    void backwardsIsNotALoss() {
        SequenceTracker t = new SequenceTracker();
        t.observe(100);
        assertEquals(Result.BACKWARDS, t.observe(100));
        assertEquals(Result.BACKWARDS, t.observe(3));
        assertEquals(0, t.lost());
        assertEquals(Result.IN_ORDER, t.observe(4));
    }

    @Test
    void resetStartsAfreshButKeepsTotals() {
        SequenceTracker t = new SequenceTracker();
        t.observe(1);
        t.observe(5);
        t.reset();
        assertEquals(Result.FIRST, t.observe(0));
        assertEquals(1, t.gaps());
        assertEquals(3, t.lost());
    }
}
