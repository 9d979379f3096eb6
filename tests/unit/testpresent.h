/*
 * Unit tests: a store as the version before the sent_hh index (the senders'
 * copies of signals by household) left it, made from a store of today.
 * Include after cmocka.h.
 */
#ifndef EENPLAN_TESTPRESENT_H
#define EENPLAN_TESTPRESENT_H

#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "testkey.h"

/* The store as the version before sent_hh left it: no sent_hh, no flag. */
static void __attribute__((unused))
make_pre_sent_hh(const char *env)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	MDB_val k;

	assert_int_equal(testkey_raw_begin(env, 0, &e, &t), 0);
	assert_int_equal(mdb_dbi_open(t, "sent_hh", 0, &d), 0);
	assert_int_equal(mdb_drop(t, d, 1), 0);
	assert_int_equal(mdb_dbi_open(t, "meta", 0, &d), 0);
	k.mv_data = (void *)(uintptr_t)"sent_hh";
	k.mv_size = strlen("sent_hh");
	assert_int_equal(mdb_del(t, d, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(t), 0);
	mdb_env_close(e);
}

#endif
