// hakrun — runs one workload program and records what it cost.
//
//   hakrun --out FILE [--preload LIB] [--timeout SECONDS] [--env K=V]... -- prog args...
//
// Forks; the child becomes its own process group leader, gets LD_PRELOAD=LIB and the --env
// variables and execs prog with stdout/stderr inherited. Only the child is preloaded: the runner
// never runs under the allocator being measured, and without --preload a preload inherited from
// the environment is removed. The parent waits with wait4 (SIGCHLD through sigtimedwait, so the
// wall time is not rounded to a polling interval); on timeout it sends SIGKILL to the child's
// process group, as it does when the runner itself gets SIGINT, SIGTERM or SIGHUP (it then dies
// of that signal). It writes one JSON object to FILE (through a temporary file and a rename):
//
//   {"exit":<int|null>,"signal":<int|null>,"timed_out":bool,"wall_s":..,"user_s":..,"sys_s":..,
//    "maxrss_kib":..,"minflt":..,"majflt":..}
//
// Exit status: 0 when the run was recorded, whatever the child did (a failed exec shows as
// exit 127); 2 on a usage error; 1 when the child could not be started or FILE not written.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENV 64

static void usage(int code) {
  fprintf(code == 0 ? stdout : stderr,
          "usage: hakrun --out FILE [--preload LIB] [--timeout SECONDS] [--env K=V]... -- prog "
          "[args...]\n");
  exit(code);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_s(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
  const char *out = NULL, *preload = NULL;
  double timeout = 0; // 0 = none
  const char *envs[MAX_ENV];
  int nenv = 0, i = 1;

  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) usage(0);
    if (i + 1 >= argc) {
      fprintf(stderr, "hakrun: %s needs a value\n", a);
      usage(2);
    }
    const char *v = argv[++i];
    if (strcmp(a, "--out") == 0) {
      out = v;
    } else if (strcmp(a, "--preload") == 0) {
      preload = v;
    } else if (strcmp(a, "--timeout") == 0) {
      char *end;
      timeout = strtod(v, &end);
      if (end == v || *end != '\0' || !(timeout > 0)) {
        fprintf(stderr, "hakrun: --timeout expects a positive number of seconds, got '%s'\n", v);
        return 2;
      }
    } else if (strcmp(a, "--env") == 0) {
      if (strchr(v, '=') == NULL || v[0] == '=') {
        fprintf(stderr, "hakrun: --env expects K=V, got '%s'\n", v);
        return 2;
      }
      if (nenv == MAX_ENV) {
        fprintf(stderr, "hakrun: at most %d --env options\n", MAX_ENV);
        return 2;
      }
      envs[nenv++] = v;
    } else {
      fprintf(stderr, "hakrun: unknown option '%s'\n", a);
      usage(2);
    }
  }
  if (out == NULL) {
    fprintf(stderr, "hakrun: --out FILE is required\n");
    usage(2);
  }
  if (i >= argc) {
    fprintf(stderr, "hakrun: no program given after --\n");
    usage(2);
  }
  char **prog = argv + i;

  // SIGCHLD blocked from before the fork, so it cannot arrive before sigtimedwait looks for it.
  // SIGINT/SIGTERM/SIGHUP are taken the same way: the child has its own process group (a
  // terminal's Ctrl-C does not reach it), so the runner kills that group before dying itself.
  sigset_t waitset, old;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGCHLD);
  sigaddset(&waitset, SIGINT);
  sigaddset(&waitset, SIGTERM);
  sigaddset(&waitset, SIGHUP);
  sigprocmask(SIG_BLOCK, &waitset, &old);

  fflush(NULL);
  double t0 = mono_s();
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "hakrun: fork: %s\n", strerror(errno));
    return 1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    // Without --preload the child runs without any preload (a stray inherited one removed).
    if (preload != NULL && preload[0] != '\0') {
      if (setenv("LD_PRELOAD", preload, 1) != 0) _exit(127);
    } else {
      unsetenv("LD_PRELOAD");
    }
    for (int k = 0; k < nenv; k++) {
      const char *eq = strchr(envs[k], '=');
      char key[256];
      size_t klen = (size_t)(eq - envs[k]);
      if (klen >= sizeof key) _exit(127);
      memcpy(key, envs[k], klen);
      key[klen] = '\0';
      if (setenv(key, eq + 1, 1) != 0) _exit(127);
    }
    execvp(prog[0], prog);
    fprintf(stderr, "hakrun: cannot run %s: %s\n", prog[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid); // also from the parent: no window where a kill(-pid) would miss

  int status = 0, timed_out = 0, interrupted = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  double deadline = timeout > 0 ? t0 + timeout : 0;
  for (;;) {
    pid_t r = wait4(pid, &status, WNOHANG, &ru);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      fprintf(stderr, "hakrun: wait4: %s\n", strerror(errno));
      return 1;
    }
    int sig;
    if (deadline > 0) {
      double left = deadline - mono_s();
      if (left <= 0) {
        timed_out = 1;
        sig = SIGKILL;
      } else {
        struct timespec ts;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        sig = sigtimedwait(&waitset, NULL, &ts);
      }
    } else {
      sig = sigwaitinfo(&waitset, NULL);
    }
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) interrupted = sig;
    if (timed_out || interrupted) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
      }
      break;
    }
  }
  double wall = mono_s() - t0;

  char exitbuf[16] = "null", sigbuf[16] = "null";
  if (WIFEXITED(status)) snprintf(exitbuf, sizeof exitbuf, "%d", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) snprintf(sigbuf, sizeof sigbuf, "%d", WTERMSIG(status));

  size_t olen = strlen(out);
  char *tmp = malloc(olen + 32);
  if (tmp == NULL) return 1;
  snprintf(tmp, olen + 32, "%s.tmp%ld", out, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    fprintf(stderr, "hakrun: cannot write %s: %s\n", tmp, strerror(errno));
    return 1;
  }
  fprintf(f,
          "{\"exit\":%s,\"signal\":%s,\"timed_out\":%s,\"wall_s\":%.6f,\"user_s\":%.6f,"
          "\"sys_s\":%.6f,\"maxrss_kib\":%ld,\"minflt\":%ld,\"majflt\":%ld}\n",
          exitbuf, sigbuf, timed_out ? "true" : "false", wall, tv_s(ru.ru_utime),
          tv_s(ru.ru_stime), ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt);
  if (fclose(f) != 0 || rename(tmp, out) != 0) {
    fprintf(stderr, "hakrun: cannot write %s: %s\n", out, strerror(errno));
    unlink(tmp);
    return 1;
  }
  free(tmp);
  if (interrupted) { // die of the signal that stopped us, as the caller expects
    signal(interrupted, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    raise(interrupted);
    return 128 + interrupted;
  }
  return 0;
}
