/* childenv.h - the environment a child process gets (lib/childenv.c). */
#ifndef CTXVAR_CHILDENV_H
#define CTXVAR_CHILDENV_H

#include <stddef.h>

#include "store.h"

/* What the call passes on: the caller's environment, or one built in
 * `area` (our mapping, NULL when none was made). */
struct ctxvar__child_env {
    char *const *envp;
    void *area;
    size_t area_size;
};

/* The environment for a child started with envp (`implicit`: the call uses
 * the process's environ), in *e: envp itself, or one built in a mapping of
 * its own.  Allocates nothing from the heap, takes no lock: safe after
 * vfork and fork.  errno is kept. */
void ctxvar__child_env_build(struct ctxvar__child_env *e, char *const *envp, int implicit) CTXVAR__HIDDEN;

/* Unmaps what build made. */
void ctxvar__child_env_release(struct ctxvar__child_env *e) CTXVAR__HIDDEN;

/* Around a real exec: build, recorded for the case of a vfork child (whose
 * successful exec leaves the mapping in its parent); after an exec that
 * returned (failed): forget and release.  errno as the caller left it. */
int ctxvar__child_env_exec_begin(struct ctxvar__child_env *e, char *const envp[], int implicit) CTXVAR__HIDDEN;
void ctxvar__child_env_exec_end(struct ctxvar__child_env *e, int record) CTXVAR__HIDDEN;

/* The calling thread is ending: what its vfork children left mapped goes
 * (they have exec'd or exited: a thread in vfork is suspended). */
void ctxvar__child_env_thread_ends(void) CTXVAR__HIDDEN;

#endif
