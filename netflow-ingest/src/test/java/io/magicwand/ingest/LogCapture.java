package io.magicwand.ingest;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;

/** Collects the formatted log lines of one logger (log4j2) for assertions. */
final class LogCapture extends AbstractAppender implements AutoCloseable {
    final List<String> lines = new CopyOnWriteArrayList<>();
    private final Logger logger;

    LogCapture(Class<?> cls) {
        super("capture-" + cls.getSimpleName() + "-" + System.nanoTime(), null, null, true, Property.EMPTY_ARRAY);
        start();
        logger = (Logger) LogManager.getLogger(cls);
        logger.addAppender(this);
    }

    @Override
    public void append(LogEvent event) {
        lines.add(event.getLevel() + " " + event.getMessage().getFormattedMessage());
    }

    List<String> matching(String needle) {
        return lines.stream().filter(l -> l.contains(needle)).toList();
    }

    @Override
    public void close() {
        logger.removeAppender(this);
        stop();
    }
}
