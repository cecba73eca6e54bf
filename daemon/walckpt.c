/* walckpt.c: the journal's checkpoint thread (see walckpt.h).
 *
 * One mutex guards a "wanted" flag, a "stop" flag and the stats; the thread
 * sleeps on a condition variable until one of the flags is set, and runs the
 * checkpoint with the mutex released, so walckpt_request() costs the writer a
 * lock and a signal. Requests that arrive while a checkpoint runs fold into one
 * more run. The connection belongs to the thread from start to stop.
 */
#include "walckpt.h"
#include "sqlite_errno.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <sqlite3.h>

#define WALCKPT_BUSY_TIMEOUT_MS 5000

struct walckpt {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool wanted, stop;
	struct walckpt_stats stats;
};

static void *walckpt_main(void *arg)
{
	struct walckpt *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		int rc;

		while (!w->wanted && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		w->wanted = false;
		pthread_mutex_unlock(&w->lock);
		rc = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&w->lock);
		if (rc == SQLITE_OK) {
			w->stats.runs++;
			w->stats.last_error = 0;
		} else {
			w->stats.last_error = sqlite_errno(rc);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int walckpt_start(struct walckpt **out, const char *path)
{
	struct walckpt *w;
	int rc, r;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(w->db, WALCKPT_BUSY_TIMEOUT_MS);
	/* A checkpoint syncs the WAL before it copies and the database after. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	/* Its pages are read once and written through: no cache worth keeping. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "PRAGMA cache_size=-64", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(w->db);
		free(w);
		return sqlite_errno(rc);
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	r = pthread_create(&w->thread, NULL, walckpt_main, w);
	if (r != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		sqlite3_close(w->db);
		free(w);
		return -r;
	}
	*out = w;
	return 0;
}

void walckpt_request(struct walckpt *w)
{
	pthread_mutex_lock(&w->lock);
	w->wanted = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void walckpt_stats(struct walckpt *w, struct walckpt_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

void walckpt_stop(struct walckpt *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	sqlite3_close(w->db);
	free(w);
}
