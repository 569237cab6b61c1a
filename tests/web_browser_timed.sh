#!/usr/bin/env bash
# web_browser_timed.sh: the fan's page in the timed mode (tests/http/web_browser_timed.sh.conf:
# QUEUE_MODE=timed, B = 1, R = 1/s): tests/web_browser.js's timed scenario, which checks that the
# page counts its wait down without polling and is admitted at its signed time.
CR_WEB_MODE=timed exec "$(dirname "$0")/web_browser.sh" "$@"
