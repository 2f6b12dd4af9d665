/* Tiny self-registering unit test framework for build/mw_unit_tests.
 *
 *   MW_TEST(name) { ... MW_ASSERT(cond); ... }
 *
 * Each MW_TEST registers itself from a constructor; the runner's main() (defined once, in the file
 * that defines MW_TEST_MAIN before including this header -- see mwtest_main.c) runs them all, or only
 * those whose name contains argv[1], and ends with exactly "N passed, N failed".
 * A failed MW_ASSERT prints file:line and the expression and returns from the test. */
#ifndef MW_TEST_H
#define MW_TEST_H

#include <stdio.h>

typedef void (*mw_test_fn)(void);
void mw_test_register(const char *name, mw_test_fn fn);
extern int mw_test_failed_now;

#define MW_TEST(name)                                                                 \
    static void mw_test_##name(void);                                                 \
    __attribute__((constructor)) static void mw_test_reg_##name(void)                 \
    {                                                                                 \
        mw_test_register(#name, mw_test_##name);                                      \
    }                                                                                 \
    static void mw_test_##name(void)

#define MW_ASSERT(cond)                                                               \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
            mw_test_failed_now = 1;                                                   \
            return;                                                                   \
        }                                                                             \
    } while (0)

#endif /* MW_TEST_H */
