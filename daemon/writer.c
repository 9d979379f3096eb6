/* writer: the group-commit thread (see writer.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "audit.h"
#include "writer.h"

struct writer {
	struct store		*w_store;
	pthread_t		 w_thread;
	pthread_mutex_t		 w_mtx;
	pthread_cond_t		 w_cond;
	struct wjob		*w_head;	/* FIFO, under w_mtx */
	struct wjob		*w_tail;
	int			 w_stopping;	/* under w_mtx */
	int			 w_joined;
	struct writer_stats	 w_stats;	/* under w_mtx */
	struct audit_head	 w_ahead;	/* writer thread only */
};

/*
 * A job whose exec refused: its writes go, but the attempt is still audited,
 * alone in a fresh child.
 */
static int
writer_audit_alone(struct writer *w, struct stxn *parent, struct wjob *job)
{
	struct audit_head saved = w->w_ahead;
	struct stxn *child;
	int rc;

	if ((rc = store_child_begin(parent, &child)) != STORE_OK)
		return rc;
	if ((rc = audit_append(child, &w->w_ahead, job->wj_audit)) !=
	    STORE_OK) {
		store_abort(child);
		w->w_ahead = saved;
		return rc;
	}
	if ((rc = store_commit(child)) != STORE_OK) {
		w->w_ahead = saved;
		return rc;
	}
	return STORE_OK;
}

/*
 * Runs one job in its own child txn. The data and the audit record share
 * that child, so a job whose record cannot be written keeps no data.
 * Returns STORE_OK when the job's part is in the parent.
 */
static int
writer_run_job(struct writer *w, struct stxn *parent, struct wjob *job)
{
	struct audit_head saved = w->w_ahead;
	struct stxn *child;
	int rc;

	job->wj_exec_rc = 0;
	if ((rc = store_child_begin(parent, &child)) != STORE_OK)
		return rc;
	if (job->wj_exec != NULL)
		job->wj_exec_rc = job->wj_exec(job, child);
	if (job->wj_exec_rc != 0) {
		store_abort(child);
		if (job->wj_audit == NULL)
			return STORE_OK;
		return writer_audit_alone(w, parent, job);
	}
	if (job->wj_audit != NULL &&
	    (rc = audit_append(child, &w->w_ahead, job->wj_audit)) !=
	    STORE_OK) {
		log_warnx("writer: audit record not written (%s): job rolled "
		    "back", store_strerror(rc));
		store_abort(child);
		w->w_ahead = saved;
		return rc;
	}
	if ((rc = store_commit(child)) != STORE_OK) {
		w->w_ahead = saved;
		return rc;
	}
	return STORE_OK;
}

static void
writer_post_all(struct wjob *batch)
{
	struct wjob *job, *next;

	/* The job may be freed by its post: read the link first. */
	for (job = batch; job != NULL; job = next) {
		next = job->wj_next;
		job->wj_next = NULL;
		if (job->wj_post != NULL)
			job->wj_post(job);
	}
}

static void
writer_run_batch(struct writer *w, struct wjob *batch)
{
	struct audit_head saved = w->w_ahead;
	struct stxn *parent;
	struct wjob *job;
	uint64_t n = 0;
	int rc;

	for (job = batch; job != NULL; job = job->wj_next)
		n++;
	if ((rc = store_write_begin(w->w_store, &parent)) == STORE_OK) {
		for (job = batch; job != NULL; job = job->wj_next)
			job->wj_rc = writer_run_job(w, parent, job);
		/* One fsync for the whole batch. */
		rc = store_commit(parent);
	}
	if (rc != STORE_OK) {
		/* Nothing of the batch was written: every job fails. */
		log_warnx("writer: batch of %llu not committed: %s",
		    (unsigned long long)n, store_strerror(rc));
		w->w_ahead = saved;
		for (job = batch; job != NULL; job = job->wj_next)
			job->wj_rc = rc;
	}
	pthread_mutex_lock(&w->w_mtx);
	w->w_stats.ws_batches++;
	w->w_stats.ws_jobs += n;
	if (n > w->w_stats.ws_max_batch)
		w->w_stats.ws_max_batch = n;
	if (rc != STORE_OK)
		w->w_stats.ws_failed_commits++;
	pthread_mutex_unlock(&w->w_mtx);
	writer_post_all(batch);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct wjob *batch;

	for (;;) {
		pthread_mutex_lock(&w->w_mtx);
		while (w->w_head == NULL && !w->w_stopping)
			pthread_cond_wait(&w->w_cond, &w->w_mtx);
		batch = w->w_head;
		w->w_head = w->w_tail = NULL;
		pthread_mutex_unlock(&w->w_mtx);
		/* Stopping only ends the loop once the queue is empty. */
		if (batch == NULL)
			break;
		writer_run_batch(w, batch);
	}
	return NULL;
}

struct writer *
writer_start(struct store *st, char *err, size_t errlen)
{
	struct writer *w;
	struct stxn *rd;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "writer: out of memory");
		return NULL;
	}
	w->w_store = st;
	if ((rd = store_reader_new(st)) == NULL) {
		snprintf(err, errlen, "writer: out of memory");
		goto fail;
	}
	if ((rc = store_reader_begin(rd)) == STORE_OK) {
		rc = audit_head_load(rd, &w->w_ahead);
		store_reader_end(rd);
	}
	store_reader_free(rd);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "writer: audit head: %s (run verify)",
		    store_strerror(rc));
		goto fail;
	}
	if (pthread_mutex_init(&w->w_mtx, NULL) != 0) {
		snprintf(err, errlen, "writer: mutex");
		goto fail;
	}
	if (pthread_cond_init(&w->w_cond, NULL) != 0) {
		snprintf(err, errlen, "writer: condition variable");
		pthread_mutex_destroy(&w->w_mtx);
		goto fail;
	}
	if ((rc = pthread_create(&w->w_thread, NULL, writer_main, w)) != 0) {
		snprintf(err, errlen, "writer: thread: %s", strerror(rc));
		pthread_cond_destroy(&w->w_cond);
		pthread_mutex_destroy(&w->w_mtx);
		goto fail;
	}
	return w;
fail:
	free(w);
	return NULL;
}

void
writer_submit(struct writer *w, struct wjob *job)
{
	job->wj_next = NULL;
	pthread_mutex_lock(&w->w_mtx);
	if (w->w_stopping) {
		pthread_mutex_unlock(&w->w_mtx);
		job->wj_exec_rc = 0;
		job->wj_rc = STORE_ERR;
		if (job->wj_post != NULL)
			job->wj_post(job);
		return;
	}
	if (w->w_tail != NULL)
		w->w_tail->wj_next = job;
	else
		w->w_head = job;
	w->w_tail = job;
	pthread_cond_signal(&w->w_cond);
	pthread_mutex_unlock(&w->w_mtx);
}

void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->w_mtx);
	w->w_stopping = 1;
	pthread_cond_signal(&w->w_cond);
	pthread_mutex_unlock(&w->w_mtx);
	if (!w->w_joined) {
		pthread_join(w->w_thread, NULL);
		w->w_joined = 1;
	}
}

void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	writer_stop(w);
	pthread_cond_destroy(&w->w_cond);
	pthread_mutex_destroy(&w->w_mtx);
	free(w);
}

void
writer_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->w_mtx);
	*out = w->w_stats;
	pthread_mutex_unlock(&w->w_mtx);
}
