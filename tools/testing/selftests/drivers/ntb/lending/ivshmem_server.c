// SPDX-License-Identifier: GPL-2.0
/*
 * ivshmem_server: the host-side server that QEMU's ivshmem-doorbell
 * devices connect to (Debian ships none). vm.sh builds and runs it.
 *
 *   ivshmem_server [-v VECTORS] [-m BYTES] SOCKET...
 *
 * Each SOCKET is a group of its own: the clients that connect to it get
 * IDs from 0 and the eventfds of each other's interrupt vectors; clients
 * of different sockets never learn of each other. Every client of every
 * group gets the same shared memory, BYTES long (a power of two, default
 * 1 MiB). "ready" is printed once every socket listens; SIGTERM or SIGINT
 * ends the server, which removes its sockets.
 *
 * The protocol is QEMU's docs/specs/ivshmem-spec.rst: the server only
 * sends, 8-byte little-endian signed numbers, some with a file descriptor
 * (SCM_RIGHTS): the protocol version (0), the client's ID, -1 with the
 * shared memory, then for each other client of the group its ID once per
 * vector, each with the eventfd that interrupts it on that vector, and
 * last the client's own ID once per vector with the eventfds it is
 * interrupted by. The other clients get the new one's ID and eventfds; an
 * ID with no descriptor says that client left.
 */

#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PROTOCOL_VERSION	0
#define MAX_VECTORS		256	/* QEMU takes 8 bits of vector */
#define MAX_GROUPS		16
#define MAX_CLIENTS		64	/* of every group together */

struct client {
	int fd;			/* the connection, -1 for a free slot */
	int group;
	int id;
	int efd[MAX_VECTORS];	/* eventfds that interrupt this client */
};

static struct {
	int nvectors;
	int shm_fd;
	int ngroups;
	const char *path[MAX_GROUPS];
	int listen_fd[MAX_GROUPS];
	struct client clients[MAX_CLIENTS];
} srv;

static void bad_args(void)
{
	fprintf(stderr, "usage: ivshmem_server [-v VECTORS] [-m BYTES] SOCKET...\n");
	exit(2);
}

/* Send one number, with file descriptor @pass unless it is -1. */
static int send_msg(int fd, long long val, int pass)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	unsigned long long le = htole64(val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (pass >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(le) ? 0 : -1;
}

/* Tell @to about client @c: its ID with each of its eventfds. */
static int send_peer(struct client *to, struct client *c)
{
	int v;

	for (v = 0; v < srv.nvectors; v++)
		if (send_msg(to->fd, c->id, c->efd[v]))
			return -1;
	return 0;
}

static void client_free(struct client *c)
{
	int v;

	for (v = 0; v < srv.nvectors; v++)
		if (c->efd[v] >= 0)
			close(c->efd[v]);
	close(c->fd);
	c->fd = -1;
}

/* The lowest ID no client of @group has, or -1. */
static int free_id(int group)
{
	int id, i, used;

	for (id = 0; id < MAX_CLIENTS; id++) {
		used = 0;
		for (i = 0; i < MAX_CLIENTS; i++)
			if (srv.clients[i].fd >= 0 && srv.clients[i].group == group &&
			    srv.clients[i].id == id)
				used = 1;
		if (!used)
			return id;
	}
	return -1;
}

static void client_gone(struct client *c)
{
	struct client *o;
	int i;

	fprintf(stderr, "ivshmem_server: %s: client %d left\n",
		srv.path[c->group], c->id);
	for (i = 0; i < MAX_CLIENTS; i++) {
		o = &srv.clients[i];
		if (o != c && o->fd >= 0 && o->group == c->group)
			send_msg(o->fd, c->id, -1);
	}
	client_free(c);
}

static void client_new(int group)
{
	struct client *c = NULL, *o;
	int fd, i, v, id;

	fd = accept4(srv.listen_fd[group], NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < MAX_CLIENTS && !c; i++)
		if (srv.clients[i].fd < 0)
			c = &srv.clients[i];
	id = free_id(group);
	if (!c || id < 0) {
		fprintf(stderr, "ivshmem_server: %s: too many clients\n",
			srv.path[group]);
		close(fd);
		return;
	}
	c->fd = fd;
	c->group = group;
	c->id = id;
	for (v = 0; v < MAX_VECTORS; v++)
		c->efd[v] = -1;
	for (v = 0; v < srv.nvectors; v++) {
		c->efd[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (c->efd[v] < 0) {
			perror("ivshmem_server: eventfd");
			client_free(c);
			return;
		}
	}
	if (send_msg(fd, PROTOCOL_VERSION, -1) || send_msg(fd, c->id, -1) ||
	    send_msg(fd, -1, srv.shm_fd))
		goto err;
	for (i = 0; i < MAX_CLIENTS; i++) {
		o = &srv.clients[i];
		if (o == c || o->fd < 0 || o->group != group)
			continue;
		if (send_peer(c, o))
			goto err;
		/* A peer that cannot be told finds its end when it polls. */
		send_peer(o, c);
	}
	if (send_peer(c, c))
		goto err;
	fprintf(stderr, "ivshmem_server: %s: client %d connected\n",
		srv.path[group], c->id);
	return;
err:
	fprintf(stderr, "ivshmem_server: %s: client %d: send failed\n",
		srv.path[group], c->id);
	client_gone(c);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ivshmem_server: socket path too long: %s\n", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, MAX_CLIENTS)) {
		fprintf(stderr, "ivshmem_server: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Serve until SIGTERM or SIGINT arrives on @sig_fd (a signalfd). */
static int serve(int sig_fd)
{
	struct pollfd pfd[1 + MAX_GROUPS + MAX_CLIENTS];
	int who[1 + MAX_GROUPS + MAX_CLIENTS];
	char junk[64];
	int n, i, g;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		who[0] = 0;
		n = 1;
		for (g = 0; g < srv.ngroups; g++) {
			pfd[n] = (struct pollfd){ .fd = srv.listen_fd[g], .events = POLLIN };
			who[n++] = -1 - g;
		}
		for (i = 0; i < MAX_CLIENTS; i++) {
			if (srv.clients[i].fd < 0)
				continue;
			pfd[n] = (struct pollfd){ .fd = srv.clients[i].fd, .events = POLLIN };
			who[n++] = i;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("ivshmem_server: poll");
			return 1;
		}
		if (pfd[0].revents)
			return 0;
		for (i = 1; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i] < 0) {
				client_new(-1 - who[i]);
				continue;
			}
			/* Clients send nothing; end of file is their leaving. */
			if (read(pfd[i].fd, junk, sizeof(junk)) <= 0)
				client_gone(&srv.clients[who[i]]);
		}
	}
}

int main(int argc, char **argv)
{
	unsigned long long shm_size = 1 << 20;
	int opt, i, ret, sig_fd;
	sigset_t sigs;
	char *end;

	srv.nvectors = 1;
	while ((opt = getopt(argc, argv, "v:m:")) != -1) {
		switch (opt) {
		case 'v':
			srv.nvectors = strtol(optarg, &end, 0);
			if (*end || srv.nvectors < 1 || srv.nvectors > MAX_VECTORS)
				bad_args();
			break;
		case 'm':
			shm_size = strtoull(optarg, &end, 0);
			if (*end || !shm_size || (shm_size & (shm_size - 1)))
				bad_args();
			break;
		default:
			bad_args();
		}
	}
	srv.ngroups = argc - optind;
	if (srv.ngroups < 1 || srv.ngroups > MAX_GROUPS)
		bad_args();
	for (i = 0; i < MAX_CLIENTS; i++)
		srv.clients[i].fd = -1;

	srv.shm_fd = memfd_create("ivshmem", MFD_CLOEXEC);
	if (srv.shm_fd < 0 || ftruncate(srv.shm_fd, shm_size)) {
		perror("ivshmem_server: shared memory");
		return 1;
	}
	/* The signals that end the server arrive through poll(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sig_fd < 0) {
		perror("ivshmem_server: signalfd");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < srv.ngroups; i++) {
		srv.path[i] = argv[optind + i];
		srv.listen_fd[i] = listen_on(srv.path[i]);
		if (srv.listen_fd[i] < 0) {
			srv.ngroups = i;
			ret = 1;
			goto out;
		}
	}
	printf("ready\n");
	fflush(stdout);
	ret = serve(sig_fd);
out:
	for (i = 0; i < srv.ngroups; i++) {
		close(srv.listen_fd[i]);
		unlink(srv.path[i]);
	}
	return ret;
}
