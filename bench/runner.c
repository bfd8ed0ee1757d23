// hakrun — runs one workload program and records what it cost.
//
//   hakrun --out FILE [--preload LIB] [--timeout SECONDS] [--sample-ms MS] [--tree] [--core-rtt]
//          [--env K=V]... -- prog args...
//
// Forks; the child becomes its own process group leader, gets LD_PRELOAD=LIB and the --env
// variables and execs prog with stdout/stderr inherited. Only the child is preloaded: the runner
// never runs under the allocator being measured, and without --preload a preload inherited from
// the environment is removed. The parent waits with wait4 (SIGCHLD through sigtimedwait, so the
// wall time is not rounded to a polling interval); on timeout it sends SIGKILL to the child's
// process group, as it does when the runner itself gets SIGINT, SIGTERM or SIGHUP (it then dies
// of that signal). While it waits it samples the child's resident set every --sample-ms
// milliseconds (default 10; 0 = never) from /proc/<pid>/statm, a read of a few counters that
// does not walk the child's page tables; with --tree each sample is the sum over the child and
// every process descended from it (a compiler driver's cc1plus, a shell's commands), found through
// /proc/<pid>/task/<tid>/children. With --core-rtt it first times the machine's core-to-core
// round trip (core_rtt.h). It writes one JSON object to FILE (through a temporary file and a
// rename):
//
//   {"exit":<int|null>,"signal":<int|null>,"timed_out":bool,"wall_s":..,"user_s":..,"sys_s":..,
//    "maxrss_kib":..,"minflt":..,"majflt":..,"rss_sample_ms":..,"rss_peak_kib":..,
//    "rss_mib_s":..,"rss_curve":[[t_s,kib],...],"core_rtt_ns":<number|null>}
//
// maxrss_kib is the kernel's high-water mark (exact); rss_peak_kib the largest sample,
// rss_mib_s the integral of the samples over time (each sample held until the next) and
// rss_curve every sample (seconds since the fork, KiB); a run that ended before the first sample
// gets one, its maxrss at time 0.
//
// Exit status: 0 when the run was recorded, whatever the child did (a failed exec shows as
// exit 127); 2 on a usage error; 1 when the child could not be started or FILE not written.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "core_rtt.h"

#define MAX_ENV 64
#define DEFAULT_SAMPLE_MS 10.0

// The resident-set samples of the child.
typedef struct {
  double *t;  // seconds since the fork
  long *kib;  // resident KiB
  size_t n, cap;
  int fd;     // /proc/<pid>/statm, or -1
  long page_kib;
  pid_t pid;  // the child
  int tree;   // --tree: add the child's descendants
} rss_log;

// Reads the child's resident KiB now; -1 when it cannot be read (gone, reaped, no /proc). A
// zombie has no memory left: 0 is returned as -1 too, so a run's last sample is a real one.
static long rss_now(const rss_log *l) {
  char buf[128];
  if (l->fd < 0) return -1;
  ssize_t r = pread(l->fd, buf, sizeof buf - 1, 0);
  if (r <= 0) return -1;
  buf[r] = '\0';
  long size = 0, resident = 0;
  if (sscanf(buf, "%ld %ld", &size, &resident) != 2 || resident <= 0) return -1;
  return resident * l->page_kib;
}

#define MAX_TREE 4096 /* processes summed in one --tree sample */

// The resident KiB of process `pid` (statm opened for this read), or 0 when it is gone.
static long rss_of(pid_t pid, long page_kib) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0) return 0;
  buf[r] = '\0';
  long size = 0, resident = 0;
  if (sscanf(buf, "%ld %ld", &size, &resident) != 2 || resident <= 0) return 0;
  return resident * page_kib;
}

// Appends the children of every thread of `pid` to list[*n..] (at most MAX_TREE in all).
static void children_of(pid_t pid, pid_t *list, size_t *n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
  DIR *d = opendir(path);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && *n < MAX_TREE) {
    if (e->d_name[0] == '.') continue;
    char cpath[300], buf[4096];
    snprintf(cpath, sizeof cpath, "/proc/%ld/task/%s/children", (long)pid, e->d_name);
    int fd = open(cpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = '\0';
    for (char *p = buf, *end; *n < MAX_TREE; p = end) {
      long c = strtol(p, &end, 10);
      if (end == p) break;
      list[(*n)++] = (pid_t)c;
    }
  }
  closedir(d);
}

// The resident KiB of the child's descendants (not the child itself), breadth first.
static long rss_descendants(const rss_log *l) {
  static pid_t list[MAX_TREE];
  size_t n = 0;
  long kib = 0;
  children_of(l->pid, list, &n);
  for (size_t k = 0; k < n; k++) {
    kib += rss_of(list[k], l->page_kib);
    children_of(list[k], list, &n);
  }
  return kib;
}

static void rss_add(rss_log *l, double t, long kib) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    double *nt = realloc(l->t, cap * sizeof *nt);
    if (nt == NULL) return;
    l->t = nt;
    long *nk = realloc(l->kib, cap * sizeof *nk);
    if (nk == NULL) return;
    l->kib = nk;
    l->cap = cap;
  }
  l->t[l->n] = t;
  l->kib[l->n] = kib;
  l->n++;
}

static void rss_sample(rss_log *l, double t) {
  long kib = rss_now(l);
  if (kib >= 0 && l->tree) kib += rss_descendants(l);
  if (kib >= 0) rss_add(l, t, kib);
}

static void usage(int code) {
  fprintf(code == 0 ? stdout : stderr,
          "usage: hakrun --out FILE [--preload LIB] [--timeout SECONDS] [--sample-ms MS] [--tree] "
          "[--core-rtt] [--env K=V]... -- prog [args...]\n");
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
  double sample_ms = DEFAULT_SAMPLE_MS;
  const char *envs[MAX_ENV];
  int nenv = 0, i = 1, tree = 0, rtt = 0;

  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) usage(0);
    if (strcmp(a, "--tree") == 0) {
      tree = 1;
      continue;
    }
    if (strcmp(a, "--core-rtt") == 0) {
      rtt = 1;
      continue;
    }
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
    } else if (strcmp(a, "--sample-ms") == 0) {
      char *end;
      sample_ms = strtod(v, &end);
      if (end == v || *end != '\0' || !(sample_ms >= 0) || sample_ms > 60000) {
        fprintf(stderr, "hakrun: --sample-ms expects milliseconds in 0..60000, got '%s'\n", v);
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

  double rtt_ns = rtt ? core_rtt_ns() : 0; // before the child: its threads are not disturbed
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

  // statm is opened once: it names the task, so it follows the child through its exec
  rss_log rss = {NULL, NULL, 0, 0, -1, sysconf(_SC_PAGESIZE) / 1024, pid, tree};
  if (sample_ms > 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
    rss.fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  double interval = sample_ms / 1000.0, next_sample = t0 + interval;

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
    int sig = -1;
    double now = mono_s();
    if (rss.fd >= 0 && now >= next_sample) {
      rss_sample(&rss, now - t0);
      // the next tick on the grid, skipping ticks missed while descheduled
      while (next_sample <= now) next_sample += interval;
    }
    double until = rss.fd >= 0 ? next_sample : 0;
    if (deadline > 0 && (until == 0 || deadline < until)) until = deadline;
    if (deadline > 0 && now >= deadline) {
      timed_out = 1;
    } else if (until > 0) {
      double left = until - now;
      struct timespec ts;
      ts.tv_sec = (time_t)left;
      ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
      sig = sigtimedwait(&waitset, NULL, &ts);
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
  // A run that ended before its first sample (hakmem's live_heads at the quick scale: 9 ms) is
  // one point: its high-water mark held from the start, an upper bound of its curve.
  if (rss.fd >= 0 && rss.n == 0 && ru.ru_maxrss > 0) rss_add(&rss, 0, ru.ru_maxrss);
  if (rss.fd >= 0) close(rss.fd);
  long peak = 0;
  double mib_s = 0;
  for (size_t k = 0; k < rss.n; k++) {
    if (rss.kib[k] > peak) peak = rss.kib[k];
    double until = k + 1 < rss.n ? rss.t[k + 1] : wall;
    mib_s += (double)rss.kib[k] / 1024.0 * (until - rss.t[k]);
  }

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
          "\"sys_s\":%.6f,\"maxrss_kib\":%ld,\"minflt\":%ld,\"majflt\":%ld,"
          "\"rss_sample_ms\":%g,\"rss_peak_kib\":%ld,\"rss_mib_s\":%.6f,\"rss_curve\":[",
          exitbuf, sigbuf, timed_out ? "true" : "false", wall, tv_s(ru.ru_utime),
          tv_s(ru.ru_stime), ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt, sample_ms, peak, mib_s);
  for (size_t k = 0; k < rss.n; k++) {
    fprintf(f, "%s[%.4f,%ld]", k ? "," : "", rss.t[k], rss.kib[k]);
  }
  if (rtt_ns > 0) fprintf(f, "],\"core_rtt_ns\":%.1f}\n", rtt_ns);
  else fprintf(f, "],\"core_rtt_ns\":null}\n");
  free(rss.t);
  free(rss.kib);
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
