#!/bin/sh
# sparse for scripts/static-checks.sh (make C=2 CHECK=this): Debian 12's
# sparse 0.6.4 with two definitions that let it parse Linux 7.3, whose
# scripts/checker-valid.sh rejects it otherwise:
#   - __typeof_unqual__ (compiler_types.h uses it whenever __CHECKER__ is
#     defined) is read as __typeof__: only qualifiers differ, and the check
#     compares the base with the series, which both parse this way;
#   - __builtin_strlen() of MODULE_INFO()'s string literal must be a
#     constant for its static_assert(); 0.6.4 cannot fold it and reports an
#     error, after which sparse prints no more warnings for the file.
exec sparse '-D__typeof_unqual__=__typeof__' '-D__builtin_strlen(s)=(sizeof(s) - 1)' "$@"
