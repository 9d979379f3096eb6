/*
 * pbjson: any protobuf-c message as a jansson value, walked generically by
 * its descriptor, so every wire message prints without code of its own.
 */
#ifndef EENPLAN_PBJSON_H
#define EENPLAN_PBJSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/*
 * The message as a JSON object: field names as in the .proto, enums by their
 * value name ("DOMAIN_FINANCIEN"), repeated fields as arrays, bytes as lower
 * hex, 64-bit integers as numbers (as strings above 2^63-1), unset messages
 * and oneof members left out. Every singular int64 is a time in microseconds
 * (the wire convention), so a non-zero one also gets "<name>_utc" as an
 * ISO 8601 string. Text that is not UTF-8 has bad bytes replaced by U+FFFD.
 * NULL on allocation failure.
 */
json_t	*pbjson_message(const ProtobufCMessage *msg);

/* s as a JSON string, bad UTF-8 bytes replaced by U+FFFD ("" for NULL). */
json_t	*pbjson_string(const char *s);

/* The member of msg's first oneof that is set, or NULL. */
const ProtobufCMessage *pbjson_oneof_message(const ProtobufCMessage *msg);

/* us (microseconds since the epoch) as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ"; -1 if out of range. */
int	pbjson_time_utc(int64_t us, char *buf, size_t len);

#endif
