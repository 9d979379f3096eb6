/*
 * admin: the operator's HTTP listener on a loopback address ([admin]
 * listen; off unless configured) — /metrics (Prometheus text format
 * 0.0.4), /healthz and /readyz. It runs on its own thread and event_base
 * (libevent's evhttp), so a scrape never waits for a TLS worker and no
 * worker waits for a scrape: it reads atomics, the store's meta page and
 * the TLS context's dates, nothing a worker holds.
 */
#ifndef EENPLAN_ADMIN_H
#define EENPLAN_ADMIN_H

struct admin;
struct server;
struct event_base;

/*
 * Binds the listener (before privileges are dropped); fatal when it
 * cannot. NULL when [admin] listen is not set. Every admin_* takes NULL.
 */
struct admin *admin_new(struct server *);
/* /healthz watches this event loop: slot 0 the main thread, 1 + i worker i. */
void	admin_watch(struct admin *, struct event_base *, unsigned slot);
/* Serves, on its own thread (the store and the workers exist by now). */
void	admin_start(struct admin *);
/* Stops serving and joins the thread. */
void	admin_stop(struct admin *);
/* Before the watched event loops are freed. */
void	admin_free(struct admin *);

#endif
