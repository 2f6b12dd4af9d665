package io.magicwand.streams.internal;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Compact binary encoding of the topology's internal state and repartition values (never published:
 * the public topics are Avro). Every value starts with a format version byte so a later release can
 * read older changelogs; an unknown version or a truncated value is a {@link SerializationException}.
 */
public final class Bin {
    private Bin() {
    }

    /** Appends primitives to a growing buffer. */
    public static final class Out {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        private final DataOutputStream out = new DataOutputStream(bytes);

        public Out i8(int v) {
            try {
                out.writeByte(v);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public Out bool(boolean v) {
            return i8(v ? 1 : 0);
        }

        public Out i32(int v) {
            try {
                out.writeInt(v);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public Out i64(long v) {
            try {
                out.writeLong(v);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public Out f64(double v) {
            try {
                out.writeDouble(v);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public Out str(String s) {
            if (s == null) {
                return i32(-1);
            }
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i32(b.length);
            try {
                out.write(b);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public Out raw(byte[] b) {
            i32(b.length);
            try {
                out.write(b);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public byte[] toBytes() {
            return bytes.toByteArray();
        }
    }

    /** Reads what {@link Out} wrote. */
    public static final class In {
        private final ByteBuffer buf;

        public In(byte[] data) {
            this.buf = ByteBuffer.wrap(data);
        }

        public int i8() {
            return buf.get();
        }

        public boolean bool() {
            return buf.get() != 0;
        }

        public int i32() {
            return buf.getInt();
        }

        public long i64() {
            return buf.getLong();
        }

        public double f64() {
            return buf.getDouble();
        }

        public String str() {
            int n = buf.getInt();
            if (n < 0) {
                return null;
            }
            if (n > buf.remaining()) {
                throw new BufferUnderflowException();
            }
            byte[] b = new byte[n];
            buf.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        public byte[] raw() {
            int n = buf.getInt();
            if (n < 0 || n > buf.remaining()) {
                throw new BufferUnderflowException();
            }
            byte[] b = new byte[n];
            buf.get(b);
            return b;
        }

        public int remaining() {
            return buf.remaining();
        }
    }

    /** A serde from a writer and a reader; null maps to null (tombstones). */
    public static <T> Serde<T> serde(String what, BiConsumer<T, Out> writer, Function<In, T> reader) {
        Serializer<T> ser = (topic, v) -> {
            if (v == null) {
                return null;
            }
            Out o = new Out();
            writer.accept(v, o);
            return o.toBytes();
        };
        Deserializer<T> de = (topic, data) -> {
            if (data == null) {
                return null;
            }
            try {
                In in = new In(data);
                T v = reader.apply(in);
                if (in.remaining() != 0) {
                    throw new SerializationException(what + ": " + in.remaining() + " trailing bytes");
                }
                return v;
            } catch (BufferUnderflowException e) {
                throw new SerializationException(what + ": truncated value (" + data.length + " bytes)", e);
            }
        };
        return Serdes.serdeFrom(ser, de);
    }

    /** Checks a version byte. */
    public static void version(In in, String what, int expected) {
        int v = in.i8();
        if (v != expected) {
            throw new SerializationException(what + ": unknown format version " + v + " (this build reads " + expected + ")");
        }
    }
}
