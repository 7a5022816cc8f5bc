#!/usr/bin/env bash
# Drains 10,000 logs (or $1) from the fake Auth0 tenant of tests/it/poller
# under Auth0's Essentials limit for GET /api/v2/logs (10 requests burst,
# 100 a minute) and prints the request count, the time and the number of
# requests that broke the limit. Takes about a minute: the limit's pace.
set -euo pipefail
cd "$(dirname "$0")/.."
POLLER_DRAIN_EVENTS="${1:-10000}" cargo test --test it -- \
    poller::drains_under_the_essentials_rate_limit_without_breaking_it --exact --nocapture 2>&1 |
    grep -E '^drain of|test result'
