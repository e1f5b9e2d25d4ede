/* ctor_thread - a program linked with libctor_thread.so, whose constructor
 * starts a thread before main.  main then shows its own context.
 *
 * Output:
 *   constructor: ...          (from the library, see ctor_thread_lib.c)
 *   constructor thread: ...
 *   main: ...
 */
#include "show.h"

int ctor_thread_lib_loaded(void);

int main(void)
{
    if (!ctor_thread_lib_loaded())
        return 1;
    show("main");
    return 0;
}
