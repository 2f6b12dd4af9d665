#!/usr/bin/env bash
# 80-ins-replication with isolation off: every INS holds a replica of each listener on the same
# address (SO_REUSEPORT) and the kernel spreads new connections over them.
SYS_NAME=81-ins-replication-off exec bash "$(dirname "$0")/80-ins-replication.sh" off
