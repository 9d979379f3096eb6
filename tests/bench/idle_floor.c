/*
 * idle_floor: what OpenSSL alone holds per idle mutual-TLS connection, the
 * reference for eenpland's figure (tests/bench/idle_figures.py builds and
 * runs it). The context is set up as daemon/tls.c sets up eenpland's: TLS
 * 1.2 at least, a client certificate required and verified (CRLs too, when
 * given), SSL_MODE_RELEASE_BUFFERS, no server session cache, tickets. No
 * libevent, no connection struct: one blocking SSL per connection, kept.
 *
 *   idle_floor PKI_DIR PORT WARM N [CRL_FILE]
 *
 * Each connection gets one frame answered (as a WhoAmI is); WARM (>= 1) of
 * them are closed first, as a daemon in service has seen connections come
 * and go, and the figures are taken from there. Prints "listening", then
 * "rss_per_conn=B heap_per_conn=B" once N are held, and waits for standard
 * input to close.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static long
floor_rss(void)
{
	char line[256];
	long kb = 0;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb * 1024;
}

static SSL_CTX *
floor_ctx(const char *pki, const char *crl)
{
	static const char *orgs[] = { "gemeente", "lev", "senzer", "zorgboog",
	    "savant", "huisarts-noord", "burgers" };
	char path[1024];
	X509_STORE *st;
	SSL_CTX *ctx;
	size_t i;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	st = SSL_CTX_get_cert_store(ctx);
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"f", 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	(void)snprintf(path, sizeof(path), "%s/server/server.crt", pki);
	if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1)
		goto fail;
	(void)snprintf(path, sizeof(path), "%s/server/server.key", pki);
	if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1)
		goto fail;
	(void)snprintf(path, sizeof(path), "%s/ca/root.crt", pki);
	if (X509_STORE_load_file(st, path) != 1)
		goto fail;
	for (i = 0; i < sizeof(orgs) / sizeof(orgs[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/ca/%s.crt", pki, orgs[i]);
		if (access(path, R_OK) == 0 && X509_STORE_load_file(st, path) != 1)
			goto fail;
	}
	if (crl != NULL) {
		if (X509_STORE_load_file(st, crl) != 1 ||
		    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL) != 1)
			goto fail;
	}
	return ctx;
 fail:
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Exactly len bytes, or -1. */
static int
floor_read(SSL *ssl, unsigned char *buf, size_t len)
{
	size_t got = 0;
	int n;

	while (got < len) {
		if ((n = SSL_read(ssl, buf + got, (int)(len - got))) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* One frame in (4-byte length, then at most 4 KiB), a 2-byte frame out. */
static int
floor_one_frame(SSL *ssl)
{
	static const char answer[] = { 0, 0, 0, 2, 'o', 'k' };
	unsigned char buf[4096];
	size_t len;

	if (floor_read(ssl, buf, 4) == -1)
		return -1;
	len = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
	    (size_t)buf[2] << 8 | buf[3];
	if (len > sizeof(buf) || floor_read(ssl, buf, len) == -1)
		return -1;
	return SSL_write(ssl, answer, sizeof(answer)) == sizeof(answer) ?
	    0 : -1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	SSL_CTX *ctx;
	SSL **held;
	long warm, n, i, rss0 = 0;
	size_t heap0 = 0;
	int s, fd, one = 1;
	char c;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: idle_floor PKI_DIR PORT WARM N "
		    "[CRL_FILE]\n");
		return 2;
	}
	warm = atol(argv[3]);
	n = atol(argv[4]);
	if (n <= 0 || warm < 1 || (held = calloc((size_t)n,
	    sizeof(*held))) == NULL)
		return 2;
	if ((ctx = floor_ctx(argv[1], argc == 6 ? argv[5] : NULL)) == NULL)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(s, 128) == -1) {
		perror("idle_floor: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (i = -warm; i < n; i++) {
		SSL *ssl;

		if ((fd = accept(s, NULL, NULL)) == -1 ||
		    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
		    SSL_accept(ssl) != 1 || floor_one_frame(ssl) == -1) {
			ERR_print_errors_fp(stderr);
			fprintf(stderr, "idle_floor: connection %ld failed\n",
			    i + warm);
			return 1;
		}
		if (i >= 0) {
			held[i] = ssl;
			continue;
		}
		SSL_free(ssl);
		(void)close(fd);
		if (i == -1) {
			(void)malloc_trim(0);
			rss0 = floor_rss();
			heap0 = mallinfo2().uordblks;
		}
	}
	printf("rss_per_conn=%.0f heap_per_conn=%.0f\n",
	    (double)(floor_rss() - rss0) / (double)n,
	    (double)(mallinfo2().uordblks - heap0) / (double)n);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
