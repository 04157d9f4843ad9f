# Runtime options for the AddressSanitizer and UndefinedBehaviorSanitizer builds (build-asan
# and build-fuzz). Source it after common.sh. Every report stops the process with a non-zero
# exit code, so a sanitizer finding fails the test or fuzz run that hit it.

export_sanitizer_options() {
  [ -n "${MPESA_SANITIZER_OPTIONS_SET:-}" ] && return 0
  export MPESA_SANITIZER_OPTIONS_SET=1
  local root
  root=$(repo_root)
  # detect_leaks: LeakSanitizer runs at exit; a leak is a failure like any other report.
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  if [ -f "$root/scripts/lib/lsan.supp" ]; then
    export LSAN_OPTIONS="suppressions=$root/scripts/lib/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  fi
}
