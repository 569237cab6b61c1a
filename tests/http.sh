#!/bin/sh
# http.sh: runs every HTTP test program against one throwaway stack (see run-with-stack.sh).
exec "$CR_SRC_DIR/tests/run-with-stack.sh" $CR_HTTP_TESTS
