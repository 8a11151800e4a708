/*
 * bench_smtp.c - coldseq's send path (message build + SMTP session) as
 * fast as it goes: N threads, each one session sending its share of the
 * messages over one connection (RSET between messages), like
 * `smtp-source -d -s N`.
 *
 *   bench_smtp HOST PORT COUNT THREADS SIZE [tls USER PASS CAFILE]
 *
 * Prints "smtp_msgs_per_s R".  Without "tls" it speaks plaintext with no
 * AUTH (the loopback-only test mode, for smtp-sink); with it, STARTTLS and
 * AUTH PLAIN.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"

typedef struct job {
	smtp_server srv;
	smtp_auth auth;
	int count, size, failed;
} job;

static void *worker(void *arg)
{
	job *j = arg;
	smtp_session *s = NULL;
	smtp_result res;
	cs_buf body = CS_BUF_INIT;
	int i;

	while ((int)body.len < j->size - 400)
		cs_buf_puts(&body,
		            "The quick brown fox jumps over the lazy dog "
		            "and keeps running.\n");
	if (smtp_open(&j->srv, &j->auth, &s, &res) != 0) {
		fprintf(stderr, "bench: %s\n", res.detail);
		j->failed = j->count;
		cs_buf_free(&body);
		return NULL;
	}
	for (i = 0; i < j->count; i++) {
		smtp_msg_spec m;
		cs_buf raw = CS_BUF_INIT;
		char *mid = NULL;

		if (!smtp_alive(s)) { /* the server closed the session */
			j->failed += j->count - i;
			break;
		}

		memset(&m, 0, sizeof m);
		m.from_name = "Bench Sender";
		m.from_addr = "user1@example.test";
		m.to_addr = "user2@example.test";
		m.subject = "benchmark message";
		m.text = cs_buf_str(&body);
		m.date_ms = cs_clock_now(NULL);
		if (smtp_build_message(&m, &raw, &mid, NULL) != 0 ||
		    smtp_send(s, m.from_addr, m.to_addr, raw.data, raw.len,
		              &res) != 0)
			j->failed++;
		free(mid);
		cs_buf_free(&raw);
	}
	smtp_close(s);
	cs_buf_free(&body);
	return NULL;
}

int main(int argc, char **argv)
{
	int count, threads, size, t, failed = 0;
	pthread_t tid[64];
	job jobs[64];
	cs_secret *pw = NULL;
	int64_t t0, t1;

	if (argc < 6) {
		fprintf(stderr,
		        "usage: bench_smtp HOST PORT COUNT THREADS SIZE "
		        "[tls USER PASS CAFILE]\n");
		return 2;
	}
	count = atoi(argv[3]);
	threads = atoi(argv[4]);
	size = atoi(argv[5]);
	if (threads < 1 || threads > 64 || count < threads)
		return 2;
	if (argc >= 10)
		pw = cs_secret_new(argv[8], strlen(argv[8]));
	for (t = 0; t < threads; t++) {
		memset(&jobs[t], 0, sizeof jobs[t]);
		jobs[t].srv.host = argv[1];
		jobs[t].srv.port = atoi(argv[2]);
		jobs[t].srv.tls = pw ? SMTP_TLS_STARTTLS : SMTP_TLS_NONE;
		jobs[t].srv.tls_opts.ca_file = pw ? argv[9] : NULL;
		jobs[t].auth.kind = pw ? SMTP_AUTH_PASSWORD : SMTP_AUTH_NONE;
		jobs[t].auth.user = pw ? argv[7] : NULL;
		jobs[t].auth.secret = pw;
		jobs[t].count = count / threads + (t < count % threads);
		jobs[t].size = size;
	}
	t0 = cs_mono_ms();
	for (t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, worker, &jobs[t]);
	for (t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		failed += jobs[t].failed;
	}
	t1 = cs_mono_ms();
	cs_secret_free(pw);
	if (failed)
		fprintf(stderr, "bench: %d of %d messages failed\n", failed,
		        count);
	printf("smtp_msgs_per_s %.0f\n", (double)(count - failed) * 1000.0 /
	                                     (double)(t1 - t0 ? t1 - t0 : 1));
	return failed ? 1 : 0;
}
