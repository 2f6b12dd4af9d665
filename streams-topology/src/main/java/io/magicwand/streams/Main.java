package io.magicwand.streams;

import java.util.Arrays;

/**
 * Entry point of the shaded jar: {@code java -jar streams-topology-all.jar features|detector [options]}.
 * (The two apps can also be started by class name: FeaturesApp, BaselineDetectorApp.)
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.println("usage: streams-topology-all.jar features|detector [--help] [options]\n"
                    + "  features   socket events -> flow, peer and INS-load features\n"
                    + "  detector   features -> mitigation decisions (baseline LVDDoS detector)");
            System.exit(args.length == 0 ? 2 : 0);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "features" -> System.exit(FeaturesApp.run(rest));
            case "detector" -> System.exit(BaselineDetectorApp.run(rest));
            default -> {
                System.err.println("streams-topology: error: unknown app '" + args[0] + "' (expected features or detector)");
                System.exit(2);
            }
        }
    }
}
