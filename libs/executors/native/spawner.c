/*
 * sf-spawner: starts and watches the task processes of one Swarmflow worker.
 *
 * The worker starts it once and asks it, over stdin, to run tasks. posix_spawn
 * (clone with CLONE_VM | CLONE_VFORK: no copy of the parent's page tables) from this
 * small process costs a fraction of a fork of the worker's ~100 MB Node process, and
 * keeps that work off the worker's event loop. Linux and glibc (posix_spawn with
 * POSIX_SPAWN_SETSID, posix_spawn_file_actions_addchdir_np: glibc >= 2.29).
 *
 * PROTOCOL. Both directions carry frames:
 *
 *     u32 length (little-endian; the bytes that follow it: type + payload)
 *     u8  type
 *     payload (integers u32/i32 little-endian; strings NUL-terminated)
 *
 * Requests (worker -> spawner, stdin):
 *   'R' RUN     u32 id, u32 argc, u32 envc, cwd\0, argv[0]\0 ... argv[argc-1]\0,
 *               env[0]\0 ... env[envc-1]\0 ("NAME=value")
 *               Runs argv in a new session (its pid is its process group id) with an
 *               empty signal mask and default dispositions, stdin /dev/null, stdout and
 *               stderr on one pipe (2>&1: lines keep the order they were written in; all
 *               output is reported as stdout), in cwd (empty: the spawner's), with exactly env. A
 *               bare argv[0] (no '/') is looked up in the PATH of env (default
 *               /usr/bin:/bin), relative entries against cwd. The id is the worker's
 *               choice and must not belong to a task still running.
 *   'B' BASE    u32 envc, env[0]\0 ... env[envc-1]\0
 *               Sets the base environment of later 'r' requests (replacing the earlier
 *               one). A worker sends its environment once instead of with every task.
 *   'r' RUN ON BASE
 *               As 'R', but the task's environment is the base one with env added:
 *               an entry of env replaces the base entry of the same name.
 *   'K' KILL    u32 id, u32 signal
 *               Sends signal to the task's process group. Ignored for an unknown id and
 *               once the task's main process has exited (its group was then SIGKILLed).
 *   'P' PAUSE   u32 id, u32 paused (1: stop reading the task's output, 0: read it again)
 *               Backpressure: while paused, the task's pipe is not read, so once the pipe
 *               is full the task blocks in write(); its drain period after the exit is
 *               counted from the resume. Ignored for an unknown id.
 *
 * Replies (spawner -> worker, stdout), per id in this order:
 *   'S' SPAWNED u32 id, u32 pid
 *   'E' ERROR   u32 id, u32 errno, message (the rest of the frame, no NUL)
 *               The task did not start; nothing else follows for this id.
 *   'O' OUT     u32 id, u8 stream (1 stdout, 2 stderr; always 1 now), the bytes read (<= 64 KiB)
 *   'X' EXIT    u32 id, i32 exit code (-1 when a signal ended it), u32 signal (0: none)
 *               Last frame of the id. When the main process exits, the rest of its
 *               group is SIGKILLed (leftovers of `cmd &`), then its pipes are read until
 *               EOF or for PIPE_DRAIN_MS (a process that left the group may hold them);
 *               every OUT frame of the task precedes its EXIT.
 *
 * At EOF on stdin (the worker closed it, or died) every running task's group gets
 * SIGTERM, SIGKILL after SHUTDOWN_GRACE_MS, and the spawner exits. It ignores SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT: sent to the worker's whole process group (Ctrl-C,
 * `tini -g`), they are for the worker, which decides what happens to its tasks. A
 * malformed request is reported on stderr and handled as EOF.
 *
 * Build: cc -O2 -Wall -Wextra -std=gnu11 -o sf-spawner spawner.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define PIPE_DRAIN_MS 2000
#define SHUTDOWN_GRACE_MS 5000
/* After the SIGKILL of a shutdown: how long to wait for the EXIT frames. */
#define SHUTDOWN_REAP_MS 1000
#define MAX_REQUEST (16u * 1024 * 1024)
#define DEFAULT_PATH "/usr/bin:/bin"

enum { REQ_RUN = 'R', REQ_RUN_ON_BASE = 'r', REQ_BASE = 'B', REQ_KILL = 'K', REQ_PAUSE = 'P' };
enum { REP_SPAWNED = 'S', REP_ERROR = 'E', REP_OUT = 'O', REP_EXIT = 'X' };

struct task {
    uint32_t id;
    pid_t pid;
    /* Read ends of the stdout and stderr pipes; -1 once at EOF or closed. */
    int fd[2];
    /* The main process has been reaped; status is its wait status. */
    int exited;
    int status;
    /* The worker asked not to read its output for now ('P'). */
    int paused;
    /* When exited: the time its pipes stop being waited for. */
    int64_t drain_deadline;
};

struct buffer {
    unsigned char *data;
    size_t len, cap;
};

/* The base environment ('B'): one block holding the strings, and the pointers into it. */
static char *base_block;
static char **base_env;
static size_t base_count;

static struct task *tasks;
static size_t ntasks, tasks_cap;
static struct buffer in, out;
static int stdout_broken;
static unsigned char chunk[READ_CHUNK];

static void die(const char *what) {
    fprintf(stderr, "sf-spawner: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reserve(struct buffer *b, size_t more) {
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + more) cap *= 2;
    unsigned char *data = realloc(b->data, cap);
    if (!data) die("out of memory");
    b->data = data;
    b->cap = cap;
}

static void put(struct buffer *b, const void *data, size_t len) {
    reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void le32(unsigned char *p, uint32_t v) {
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = v >> 24;
}

static void put_u32(struct buffer *b, uint32_t v) {
    unsigned char le[4];
    le32(le, v);
    put(b, le, 4);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Appends a frame: header (type, id, extra) then data. Sent by flush_out(). */
static void reply(unsigned char type, uint32_t id, const void *extra, size_t extra_len, const void *data, size_t len) {
    if (stdout_broken) return;
    put_u32(&out, (uint32_t)(1 + 4 + extra_len + len));
    put(&out, &type, 1);
    put_u32(&out, id);
    if (extra_len) put(&out, extra, extra_len);
    if (len) put(&out, data, len);
}

/* Blocking writes: a worker that does not read holds the spawner back (backpressure). */
static void flush_out(void) {
    size_t done = 0;
    while (done < out.len && !stdout_broken) {
        ssize_t n = write(STDOUT_FILENO, out.data + done, out.len - done);
        if (n >= 0) done += (size_t)n;
        else if (errno != EINTR) stdout_broken = 1; /* the worker is gone: EPIPE */
    }
    out.len = 0;
}

static void reply_error(uint32_t id, int err, const char *file) {
    char message[512];
    int n = snprintf(message, sizeof message, "cannot start \"%s\": %s", file, strerror(err));
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof message) n = sizeof message - 1;
    unsigned char extra[4];
    le32(extra, (uint32_t)err);
    reply(REP_ERROR, id, extra, 4, message, (size_t)n);
}

static struct task *find_task(uint32_t id) {
    for (size_t i = 0; i < ntasks; i++)
        if (tasks[i].id == id) return &tasks[i];
    return NULL;
}

static void signal_group(pid_t pgid, int sig) {
    if (kill(-pgid, sig) < 0 && errno != ESRCH) fprintf(stderr, "sf-spawner: kill(-%d, %d): %s\n", (int)pgid, sig, strerror(errno));
}

/*
 * execvp-like lookup of a bare name in the task's PATH (not the spawner's). Returns 0
 * and the path in `found`, or the errno execvp would give: EACCES when a match exists
 * but cannot be executed, else ENOENT.
 */
static int find_in_path(const char *file, char *const envp[], const char *cwd, char *found, size_t size) {
    const char *path = DEFAULT_PATH;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
    int result = ENOENT;
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int dir_len = (int)(end - p);
        int n;
        /* An empty entry is the working directory; a relative one starts from cwd. */
        if (dir_len == 0) n = snprintf(found, size, "%s/%s", *cwd ? cwd : ".", file);
        else if (p[0] != '/' && *cwd) n = snprintf(found, size, "%s/%.*s/%s", cwd, dir_len, p, file);
        else n = snprintf(found, size, "%.*s/%s", dir_len, p, file);
        if (n > 0 && (size_t)n < size) {
            struct stat st;
            if (stat(found, &st) == 0) {
                if (S_ISREG(st.st_mode) && access(found, X_OK) == 0) return 0;
                result = EACCES;
            }
        }
        if (*end == '\0') return result;
        p = end;
    }
}

/*
 * Every signal but SIGKILL and SIGSTOP, including glibc's internal ones (32 and 33, below
 * SIGRTMIN): sigfillset leaves those out, and posix_spawn then sets them to SIG_IGN in
 * the child, which survives exec. glibc's child code tests the set's bits directly.
 */
static void all_signals(sigset_t *set) {
    sigfillset(set);
    sigdelset(set, SIGKILL);
    sigdelset(set, SIGSTOP);
    unsigned long *words = (unsigned long *)set;
    const int bits = 8 * (int)sizeof *words;
    for (int sig = 32; sig < SIGRTMIN; sig++) words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
}

static void run_task(uint32_t id, const char *cwd, char *const argv[], char *const envp[]) {
    if (find_task(id)) {
        reply_error(id, EEXIST, argv[0]);
        return;
    }
    char resolved[4096];
    const char *path = argv[0];
    if (!strchr(argv[0], '/')) {
        int err = find_in_path(argv[0], envp, cwd, resolved, sizeof resolved);
        if (err) {
            reply_error(id, err, argv[0]);
            return;
        }
        path = resolved;
    }

    /* One pipe for stdout and stderr: with two, the order of reads is not the order of writes. */
    int out_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0) {
        reply_error(id, errno, argv[0]);
        return;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDERR_FILENO);
    if (*cwd) posix_spawn_file_actions_addchdir_np(&actions, cwd);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    all_signals(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid;
    int err = posix_spawn(&pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(out_pipe[1]);
    if (err) {
        close(out_pipe[0]);
        reply_error(id, err, argv[0]);
        return;
    }
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);

    if (ntasks == tasks_cap) {
        size_t cap = tasks_cap ? tasks_cap * 2 : 64;
        struct task *grown = realloc(tasks, cap * sizeof *tasks);
        if (!grown) die("out of memory");
        tasks = grown;
        tasks_cap = cap;
    }
    tasks[ntasks++] = (struct task){ .id = id, .pid = pid, .fd = { out_pipe[0], -1 } };
    unsigned char extra[4];
    le32(extra, (uint32_t)pid);
    reply(REP_SPAWNED, id, extra, 4, NULL, 0);
}

/* One read from a task's pipe; closes it at EOF. Returns the bytes read (0: none now). */
static ssize_t read_output(struct task *t, int stream) {
    ssize_t n;
    do n = read(t->fd[stream], chunk, sizeof chunk);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        unsigned char which = (unsigned char)(stream + 1);
        reply(REP_OUT, t->id, &which, 1, chunk, (size_t)n);
        return n;
    }
    if (n == 0 || errno != EAGAIN) {
        close(t->fd[stream]);
        t->fd[stream] = -1;
    }
    return 0;
}

/* Length of an environment entry's name: up to its '=' (the whole entry without one). */
static size_t name_length(const char *entry) {
    return (size_t)(strchrnul(entry, '=') - entry);
}

/* Whether one of the task's own entries has the name of this base entry. */
static int replaced(const char *entry, char *const own[], uint32_t n) {
    size_t len = name_length(entry);
    for (uint32_t i = 0; i < n; i++)
        if (name_length(own[i]) == len && memcmp(own[i], entry, len) == 0) return 1;
    return 0;
}

/* 'B': u32 envc, then envc NUL-terminated entries; replaces the base environment. */
static int set_base(const unsigned char *p, uint32_t len) {
    if (len < 4) return 0;
    uint32_t envc = get_u32(p);
    size_t size = len - 4;
    if (envc > size) return 0;
    char *block = malloc(size ? size : 1);
    char **env = calloc(envc + 1, sizeof *env);
    if (!block || !env) die("out of memory");
    memcpy(block, p + 4, size);
    const char *s = block, *end = block + size;
    for (uint32_t i = 0; i < envc; i++) {
        const char *nul = memchr(s, '\0', (size_t)(end - s));
        if (!nul) {
            free(block);
            free(env);
            return 0;
        }
        env[i] = (char *)s;
        s = nul + 1;
    }
    free(base_block);
    free(base_env);
    base_block = block;
    base_env = env;
    base_count = envc;
    return 1;
}

/* Parses and carries out one request; returns 0 when it is malformed. */
static int handle_request(const unsigned char *p, uint32_t len) {
    unsigned char type = p[0];
    p++;
    len--;
    if (type == REQ_KILL) {
        if (len != 8) return 0;
        struct task *t = find_task(get_u32(p));
        if (t && !t->exited) signal_group(t->pid, (int)get_u32(p + 4));
        return 1;
    }
    if (type == REQ_PAUSE) {
        if (len != 8) return 0;
        struct task *t = find_task(get_u32(p));
        if (t) {
            int was = t->paused;
            t->paused = get_u32(p + 4) != 0;
            if (was && !t->paused && t->exited) t->drain_deadline = now_ms() + PIPE_DRAIN_MS;
        }
        return 1;
    }
    if (type == REQ_BASE) return set_base(p, len);
    if ((type != REQ_RUN && type != REQ_RUN_ON_BASE) || len < 12) return 0;
    uint32_t id = get_u32(p), argc = get_u32(p + 4), envc = get_u32(p + 8);
    const char *s = (const char *)p + 12, *end = (const char *)p + len;
    if (argc == 0 || argc > len || envc > len) return 0;
    size_t base = type == REQ_RUN_ON_BASE ? base_count : 0;
    char **argv = calloc(argc + 1, sizeof *argv), **envp = calloc(base + envc + 1, sizeof *envp);
    if (!argv || !envp) die("out of memory");
    const char *cwd = NULL;
    int ok = 1;
    /* The task's own entries go after the base ones that they do not replace. */
    char **own = envp + base;
    for (uint32_t i = 0; ok && i < 1 + argc + envc; i++) {
        const char *nul = memchr(s, '\0', (size_t)(end - s));
        if (!nul) ok = 0;
        else if (i == 0) cwd = s;
        else if (i <= argc) argv[i - 1] = (char *)s;
        else own[i - 1 - argc] = (char *)s;
        if (nul) s = nul + 1;
    }
    if (ok && base > 0) {
        size_t kept = 0;
        for (size_t b = 0; b < base_count; b++)
            if (!replaced(base_env[b], own, envc)) envp[kept++] = base_env[b];
        memmove(envp + kept, own, envc * sizeof *envp);
        envp[kept + envc] = NULL;
    }
    if (ok && argv[0][0] == '\0') {
        reply_error(id, ENOENT, argv[0]);
    } else if (ok) {
        run_task(id, cwd, argv, envp);
    }
    free(argv);
    free(envp);
    return ok;
}

/* Reads what stdin has; runs every complete request. Returns 0 at EOF or on a malformed one. */
static int read_requests(void) {
    reserve(&in, READ_CHUNK);
    ssize_t n = read(STDIN_FILENO, in.data + in.len, in.cap - in.len);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return 0;
    in.len += (size_t)n;
    size_t off = 0;
    int ok = 1;
    while (ok && in.len - off >= 4) {
        uint32_t len = get_u32(in.data + off);
        if (len == 0 || len > MAX_REQUEST) {
            fprintf(stderr, "sf-spawner: malformed request (length %u)\n", len);
            ok = 0;
            break;
        }
        if (in.len - off - 4 < len) {
            reserve(&in, len + 4 - (in.len - off));
            break;
        }
        if (!handle_request(in.data + off + 4, len)) {
            fprintf(stderr, "sf-spawner: malformed request (type %u, length %u)\n", in.data[off + 4], len);
            ok = 0;
        }
        off += 4 + (size_t)len;
    }
    memmove(in.data, in.data + off, in.len - off);
    in.len -= off;
    return ok;
}

/* Reaps every exited child: SIGKILLs the rest of its group and starts its drain period. */
static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            if (pid < 0 && errno == EINTR) continue;
            return;
        }
        for (size_t i = 0; i < ntasks; i++) {
            if (tasks[i].pid != pid) continue;
            tasks[i].exited = 1;
            tasks[i].status = status;
            tasks[i].drain_deadline = now_ms() + PIPE_DRAIN_MS;
            signal_group(pid, SIGKILL);
            break;
        }
    }
}

/* Set at EOF on stdin: paused tasks are then read and ended like the others. */
static int shutting_down;

/* Sends EXIT for every reaped task whose pipes are closed or whose drain period is over. */
static void finish_tasks(int64_t now) {
    for (size_t i = 0; i < ntasks;) {
        struct task *t = &tasks[i];
        int open = t->fd[0] >= 0 || t->fd[1] >= 0;
        /* A paused task's output waits for the resume, unless the spawner is shutting down. */
        if (!t->exited || (open && (now < t->drain_deadline || (t->paused && !shutting_down)))) {
            i++;
            continue;
        }
        for (int s = 0; s < 2; s++) {
            /* What is already in the pipe still counts, up to a bound. */
            for (int reads = 0; t->fd[s] >= 0 && reads < 16 && read_output(t, s) > 0; reads++) {}
            if (t->fd[s] >= 0) close(t->fd[s]);
        }
        int32_t code = WIFEXITED(t->status) ? WEXITSTATUS(t->status) : -1;
        uint32_t sig = WIFSIGNALED(t->status) ? (uint32_t)WTERMSIG(t->status) : 0;
        unsigned char extra[8];
        le32(extra, (uint32_t)code);
        le32(extra + 4, sig);
        reply(REP_EXIT, t->id, extra, 8, NULL, 0);
        tasks[i] = tasks[--ntasks];
    }
}

static void ensure_std_fds(void) {
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) continue;
        int null = open("/dev/null", O_RDWR);
        if (null >= 0 && null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
}

int main(void) {
    ensure_std_fds();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) die("sigprocmask");
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) die("signalfd");

    int stdin_open = 1;
    /* 0 while serving; then the time of the SIGKILL, then the time to give up. */
    int64_t kill_at = 0, give_up_at = 0;
    struct pollfd *fds = NULL;
    size_t fds_cap = 0;

    for (;;) {
        int64_t now = now_ms();
        if (!stdin_open) {
            if (ntasks == 0 || (give_up_at && now >= give_up_at)) break;
            if (!give_up_at && now >= kill_at) {
                for (size_t i = 0; i < ntasks; i++)
                    if (!tasks[i].exited) signal_group(tasks[i].pid, SIGKILL);
                give_up_at = now + SHUTDOWN_REAP_MS;
            }
        }

        int64_t wake = INT64_MAX;
        for (size_t i = 0; i < ntasks; i++)
            if (tasks[i].exited && (!tasks[i].paused || shutting_down) && tasks[i].drain_deadline < wake) wake = tasks[i].drain_deadline;
        if (!stdin_open) {
            int64_t stage = give_up_at ? give_up_at : kill_at;
            if (stage < wake) wake = stage;
        }
        int timeout = wake == INT64_MAX ? -1 : wake <= now ? 0 : (int)(wake - now);

        size_t polled = ntasks;
        if (fds_cap < 2 + 2 * polled) {
            fds_cap = 2 * (2 + 2 * polled);
            fds = realloc(fds, fds_cap * sizeof *fds);
            if (!fds) die("out of memory");
        }
        fds[0] = (struct pollfd){ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
        for (size_t i = 0; i < polled; i++)
            for (int s = 0; s < 2; s++)
                fds[2 + 2 * i + s] = (struct pollfd){ .fd = tasks[i].paused && !shutting_down ? -1 : tasks[i].fd[s], .events = POLLIN };

        int ready = poll(fds, 2 + 2 * polled, timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }

        if (fds[1].revents) {
            struct signalfd_siginfo info;
            while (read(sigfd, &info, sizeof info) > 0) {}
            reap();
        }
        for (size_t i = 0; i < polled; i++)
            for (int s = 0; s < 2; s++)
                if (tasks[i].fd[s] >= 0 && fds[2 + 2 * i + s].revents) read_output(&tasks[i], s);
        if (fds[0].revents && !read_requests()) stdin_open = 0;
        finish_tasks(now_ms());
        flush_out();
        /* Nobody reads the replies (EPIPE): the worker is gone, as at EOF. */
        if (stdout_broken) stdin_open = 0;
        if (!stdin_open) shutting_down = 1;
        if (!stdin_open && !kill_at) {
            kill_at = now_ms() + SHUTDOWN_GRACE_MS;
            for (size_t i = 0; i < ntasks; i++)
                if (!tasks[i].exited) signal_group(tasks[i].pid, SIGTERM);
        }
    }
    free(fds);
    free(tasks);
    free(in.data);
    free(out.data);
    return 0;
}
