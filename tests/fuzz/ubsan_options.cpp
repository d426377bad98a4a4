// libFuzzer builds only: UBSan reads its suppressions (ubsan.supp) without being told, so that a
// crash file replays with the same settings as scripts/fuzz ran it.

extern "C" const char* __ubsan_default_options();

extern "C" const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1:suppressions=" ROOMWIRE_FUZZ_UBSAN_SUPPRESSIONS;
}
