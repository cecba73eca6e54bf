/* walckpt.h: WAL checkpoints of the journal on a thread of their own.
 *
 * SQLite's automatic checkpoint runs inside whichever COMMIT pushes the WAL past
 * its limit: that commit then also copies the WAL into the database file and
 * fsyncs both, several milliseconds on a real disk. In turnstiled that commit is
 * often a grant the relay waits for. So the store turns the automatic checkpoint
 * off and asks this worker instead: a thread with its own connection to the same
 * file, which runs a PASSIVE checkpoint (it never blocks the writer, who keeps
 * appending to the WAL meanwhile) whenever it is woken. Durability is untouched:
 * every commit is already synced in the WAL; the checkpoint only moves pages.
 */
#ifndef TS_WALCKPT_H
#define TS_WALCKPT_H

#include <stdint.h>

struct walckpt;

struct walckpt_stats {
	uint64_t runs;  /* checkpoints completed */
	int last_error; /* 0, or the negative errno of the last failed checkpoint */
};

/* Opens a second connection to path (synchronous=FULL) and starts the thread.
 * 0, -ENOMEM, -EIO (SQLite could not open), or a pthread error as a negative errno. */
int walckpt_start(struct walckpt **out, const char *path);
/* Wakes the worker for one more checkpoint; cheap, never blocks on the disk. */
void walckpt_request(struct walckpt *w);
void walckpt_stats(struct walckpt *w, struct walckpt_stats *out);
/* Lets a running checkpoint finish, stops the thread, closes. Accepts NULL. */
void walckpt_stop(struct walckpt *w);

#endif
