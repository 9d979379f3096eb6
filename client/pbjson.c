/* pbjson: protobuf-c message to jansson by descriptor (see pbjson.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbjson.h"

#define PBJSON_MAX_DEPTH	32	/* the schema is not recursive; this is a guard */

static json_t	*message_json(const ProtobufCMessage *, int);

int
pbjson_time_utc(int64_t us, char *buf, size_t len)
{
	struct tm tm;
	time_t secs;
	int64_t s, frac;

	s = us / 1000000;
	frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		s--;
	}
	secs = (time_t)s;
	if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return -1;
	if ((size_t)snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)frac) >= len)
		return -1;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t need, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

json_t *
pbjson_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i, o, k;
	json_t *j;
	char *fix;

	if (s == NULL)
		return json_string("");
	n = strlen(s);
	if ((j = json_stringn(s, n)) != NULL)
		return j;
	/* Not UTF-8: each bad byte becomes U+FFFD (3 bytes). */
	if (n > (SIZE_MAX - 1) / 3 || (fix = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (i = 0, o = 0; i < n; ) {
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			memcpy(fix + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(fix + o, p + i, k);
		o += k;
		i += k;
	}
	j = json_stringn(fix, o);
	free(fix);
	return j;
}

static json_t *
bytes_json(const ProtobufCBinaryData *b)
{
	static const char hex[] = "0123456789abcdef";
	json_t *j;
	char *s;
	size_t i;

	if (b->len > (SIZE_MAX - 1) / 2 || (s = malloc(b->len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < b->len; i++) {
		s[2 * i] = hex[b->data[i] >> 4];
		s[2 * i + 1] = hex[b->data[i] & 15];
	}
	j = json_stringn(s, b->len * 2);
	free(s);
	return j;
}

static json_t *
enum_json(const ProtobufCFieldDescriptor *fd, int v)
{
	const ProtobufCEnumValue *ev;

	ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
	if (ev == NULL)
		return json_integer(v);
	return json_string(ev->name);
}

static json_t *
u64_json(uint64_t v)
{
	char buf[24];

	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static size_t
elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 0;
	}
}

/* One value of field fd stored at p. NULL for an unset message (skip it). */
static json_t *
value_json(const ProtobufCFieldDescriptor *fd, const void *p, int depth)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer((json_int_t)*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return u64_json(*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM:
		return enum_json(fd, *(const int *)p);
	case PROTOBUF_C_TYPE_STRING:
		return pbjson_string(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json(p);
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage *const *)p == NULL)
			return NULL;
		return message_json(*(ProtobufCMessage *const *)p, depth + 1);
	default:
		return json_null();
	}
}

static int
is_time(const ProtobufCFieldDescriptor *fd)
{
	return fd->type == PROTOBUF_C_TYPE_INT64 &&
	    fd->label != PROTOBUF_C_LABEL_REPEATED;
}

static int
field_json(json_t *obj, const ProtobufCMessage *msg,
    const ProtobufCFieldDescriptor *fd, int depth)
{
	const uint8_t *base = (const uint8_t *)msg;
	const uint8_t *arr;
	json_t *v, *a;
	size_t n, i, sz;
	char iso[40], key[128];

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(const uint32_t *)(base + fd->quantifier_offset) !=
		    fd->id)
			return 0;
	}
	if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
		n = *(const size_t *)(base + fd->quantifier_offset);
		arr = *(const uint8_t *const *)(base + fd->offset);
		if ((sz = elem_size(fd->type)) == 0 ||
		    (a = json_array()) == NULL)
			return -1;
		for (i = 0; i < n && arr != NULL; i++) {
			if ((v = value_json(fd, arr + i * sz, depth)) == NULL)
				v = json_null();
			if (json_array_append_new(a, v) == -1) {
				json_decref(a);
				return -1;
			}
		}
		return json_object_set_new(obj, fd->name, a);
	}
	if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
	    fd->type != PROTOBUF_C_TYPE_MESSAGE &&
	    fd->type != PROTOBUF_C_TYPE_STRING &&
	    !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    !*(const protobuf_c_boolean *)(base + fd->quantifier_offset))
		return 0;
	if ((v = value_json(fd, base + fd->offset, depth)) == NULL)
		return fd->type == PROTOBUF_C_TYPE_MESSAGE ? 0 : -1;
	if (json_object_set_new(obj, fd->name, v) == -1)
		return -1;
	if (is_time(fd) && *(const int64_t *)(base + fd->offset) != 0 &&
	    pbjson_time_utc(*(const int64_t *)(base + fd->offset), iso,
	    sizeof(iso)) == 0) {
		snprintf(key, sizeof(key), "%s_utc", fd->name);
		if (json_object_set_new(obj, key, json_string(iso)) == -1)
			return -1;
	}
	return 0;
}

static json_t *
message_json(const ProtobufCMessage *msg, int depth)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	json_t *obj;
	unsigned i;

	if (depth > PBJSON_MAX_DEPTH)
		return json_null();
	if ((obj = json_object()) == NULL)
		return NULL;
	for (i = 0; i < d->n_fields; i++)
		if (field_json(obj, msg, &d->fields[i], depth) == -1) {
			json_decref(obj);
			return NULL;
		}
	return obj;
}

json_t *
pbjson_message(const ProtobufCMessage *msg)
{
	if (msg == NULL)
		return json_null();
	return message_json(msg, 0);
}

const ProtobufCMessage *
pbjson_oneof_message(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const ProtobufCFieldDescriptor *fd;
	const uint8_t *base = (const uint8_t *)msg;
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		fd = &d->fields[i];
		if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
		    fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (*(const uint32_t *)(base + fd->quantifier_offset) == fd->id)
			return *(ProtobufCMessage *const *)(base + fd->offset);
	}
	return NULL;
}
