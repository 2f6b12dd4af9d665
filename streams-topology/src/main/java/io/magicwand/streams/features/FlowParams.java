package io.magicwand.streams.features;

/**
 * Feature definitions' parameters: the gap that separates active from idle periods, and the
 * shortest gap between two sends that counts as the server waiting for the client to drain.
 */
record FlowParams(long idleThresholdMs, long sendWaitMinMs) {
}
