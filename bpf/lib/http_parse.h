/* HTTP/1.x request and status lines, read from the first bytes of a TCP payload. The payload
 * is copied into a per-CPU scratch buffer and scanned byte by byte in a bpf_loop callback, so
 * the verifier checks one iteration instead of a thousand. The scan is strict: anything it
 * cannot read with certainty is reported as such, and the caller decides (observe: report it
 * unparsed; enforce: deny it by name). */
#ifndef WEIR_BPF_HTTP_PARSE_H
#define WEIR_BPF_HTTP_PARSE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "siphash.h"

#define HTTP_SCAN_BYTES 1024 /* request line + headers must fit: longer is "split" */
#define HTTP_SCAN_MASK (HTTP_SCAN_BYTES - 1)
#define HTTP_SEGMENT_BYTES 256 /* room to rebuild a TCP segment (header + synthesized answer) */

enum http_parse_result {
	HTTP_PARSE_REQUEST = 0,	   /* complete request line and headers, body length known */
	HTTP_PARSE_NOT_REQUEST,	   /* not an HTTP/1.x request line (HTTP/2, TLS, anything else) */
	HTTP_PARSE_INCOMPLETE,	   /* request line or headers continue past this segment */
	HTTP_PARSE_UNTRACKABLE,	   /* chunked, or a missing/conflicting Content-Length */
	HTTP_PARSE_BODY_TOO_LARGE, /* Content-Length above WEIR_HTTP_MAX_BODY */
};

enum http_scan_phase {
	HTTP_PHASE_PATH = 0,
	HTTP_PHASE_REQUEST_LINE_END, /* skipping " HTTP/1.x\r" up to its '\n' */
	HTTP_PHASE_LINE_START,
	HTTP_PHASE_NAME,
	HTTP_PHASE_VALUE,
	HTTP_PHASE_BLANK_LINE, /* "\r" seen at a line start */
	HTTP_PHASE_DONE,
};

enum http_header_kind {
	HTTP_HEADER_OTHER = 0,
	HTTP_HEADER_HOST,
	HTTP_HEADER_CONTENT_LENGTH,
	HTTP_HEADER_TRANSFER_ENCODING,
};

#define HTTP_NAME_BYTES 24 /* header names are kept up to here, enough for the three we read */

/* The scan's state lives in the per-CPU scratch map, not on the stack: the verifier then sees
 * every field as an unknown value and checks the bpf_loop callback once, instead of following
 * positions from byte to byte. The path and the host are copied out after the scan from the
 * positions it recorded. */
struct http_scan {
	__u32 start;  /* index of the request target (after "METHOD ") */
	__u32 length; /* bytes in scratch->data */
	__u32 phase;
	__u32 skip_until;
	__u32 header_end; /* index after the blank line; 0 until found */
	__u32 path_end;	  /* index after the path (before '?' or ' ') */
	__u32 host_start;
	__u32 host_end;
	__u32 content_length;
	__u32 segment_length; /* current path segment, for dot segments */
	__u32 segment_dots;
	__u32 percent;	      /* hex digits of a %XX escape still to come (2, 1, or 0) */
	__u32 percent_value;  /* the escape's byte so far */
	__u32 name_length;
	__u32 header; /* enum http_header_kind of the current line */
	__u32 digits;
	__u64 name[HTTP_NAME_BYTES / 8];
	__u8 bad;
	__u8 unsafe_path;
	__u8 in_query;
	__u8 untrackable;
	__u8 body_too_large;
	__u8 length_seen;
	__u8 host_seen;
	__u8 value_started; /* past the spaces after ':' */
	__u8 value_ended;   /* past the value: only spaces and '\r' may follow */
};

struct http_scratch {
	__u8 data[HTTP_SCAN_BYTES];
	__u8 segment[HTTP_SEGMENT_BYTES];
	struct weir_http_request request;
	struct http_scan scan;
	struct siphash hash; /* of judged request bytes (http.h) */
	__u32 hash_length;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_scratch);
} http_scratch SEC(".maps");

/* The secret key of the hash kept of judged request bytes (http.h); 0 until first used. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} http_hash_keys SEC(".maps");

static __always_inline __u8 ascii_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* barrier_var (bpf_helpers.h) hides a value's known range from the compiler, so the mask the
 * verifier needs is kept. */
static __always_inline __u8 scratch_at(const struct http_scratch *scratch, __u32 index)
{
	barrier_var(index);
	return scratch->data[index & HTTP_SCAN_MASK];
}

/* Little-endian word of the first n (<= 8) bytes of text, for comparing a prefix in one go. */
static __always_inline __u64 text_word(const char *text, int n)
{
	__u64 word = 0;

#pragma unroll
	for (int i = 0; i < 8; i++)
		if (i < n)
			word |= (__u64)(__u8)text[i] << (8 * i);
	return word;
}

static __always_inline int word_starts_with(__u64 word, const char *text, int n)
{
	__u64 mask = n >= 8 ? ~0ULL : ((1ULL << (8 * n)) - 1);

	return (word & mask) == text_word(text, n);
}

/* Returns the method and sets *target_start, or WEIR_HTTP_METHOD_NONE. */
static __always_inline __u8 http_method_of(const struct http_scratch *scratch, __u32 length,
					   __u32 *target_start)
{
	__u64 word;

	if (length < 16)
		return WEIR_HTTP_METHOD_NONE; /* "GET / HTTP/1.1\r\n" is the shortest request */
	__builtin_memcpy(&word, scratch->data, 8);
#define HTTP_METHOD(text, value)                                                                 \
	if (word_starts_with(word, text, sizeof(text) - 1)) {                                     \
		*target_start = sizeof(text) - 1;                                                  \
		return value;                                                                      \
	}
	HTTP_METHOD("GET ", WEIR_HTTP_METHOD_GET)
	HTTP_METHOD("POST ", WEIR_HTTP_METHOD_POST)
	HTTP_METHOD("HEAD ", WEIR_HTTP_METHOD_HEAD)
	HTTP_METHOD("PUT ", WEIR_HTTP_METHOD_PUT)
	HTTP_METHOD("DELETE ", WEIR_HTTP_METHOD_DELETE)
	HTTP_METHOD("PATCH ", WEIR_HTTP_METHOD_PATCH)
	HTTP_METHOD("OPTIONS ", WEIR_HTTP_METHOD_OPTIONS)
	HTTP_METHOD("CONNECT ", WEIR_HTTP_METHOD_CONNECT)
	HTTP_METHOD("TRACE ", WEIR_HTTP_METHOD_TRACE)
#undef HTTP_METHOD
	return WEIR_HTTP_METHOD_NONE;
}

/* A path segment of "." or ".." ends here. */
static __always_inline void http_end_segment(struct http_scan *scan)
{
	if (scan->segment_length && scan->segment_length == scan->segment_dots &&
	    scan->segment_length <= 2)
		scan->unsafe_path = 1;
	scan->segment_length = 0;
	scan->segment_dots = 0;
}

/* The request line must end in " HTTP/1.0\r\n" or " HTTP/1.1\r\n"; space is its index. */
static __always_inline int http_version_ok(const struct http_scratch *scratch,
					   const struct http_scan *scan, __u32 space)
{
	__u64 word = 0;

	if (space + 11 > scan->length)
		return 0;
#pragma unroll
	for (int i = 0; i < 8; i++)
		word |= (__u64)scratch_at(scratch, space + i) << (8 * i);
	return word == text_word(" HTTP/1.", 8) &&
	       (scratch_at(scratch, space + 8) == '0' || scratch_at(scratch, space + 8) == '1') &&
	       scratch_at(scratch, space + 9) == '\r' && scratch_at(scratch, space + 10) == '\n';
}

/* What a %XX escape decodes to, judged: bytes that change the path's structure once a server
 * decodes them ('.', '/', '\', ';', '%' itself: double encoding), control bytes, and the lead
 * bytes of overlong UTF-8 forms of ASCII (%c0, %c1) make the path unsafe. */
static __always_inline int http_escape_unsafe(__u32 value)
{
	return value == '.' || value == '/' || value == '\\' || value == ';' || value == '%' ||
	       value < 0x20 || value == 0x7f || value == 0xc0 || value == 0xc1;
}

static __always_inline int hex_digit(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One byte of a %XX escape in the path. */
static __always_inline void http_escape_byte(struct http_scan *scan, __u8 c)
{
	int digit = hex_digit(c);

	if (digit < 0) {
		scan->unsafe_path = 1; /* "%zz": servers differ on what a broken escape means */
		scan->percent = 0;
		return;
	}
	scan->percent_value = scan->percent_value * 16 + digit;
	if (--scan->percent == 0 && http_escape_unsafe(scan->percent_value))
		scan->unsafe_path = 1;
}

static __always_inline long http_path_byte(struct http_scan *scan,
					   const struct http_scratch *scratch, __u32 index, __u8 c)
{
	if (c == ' ') {
		if (!scan->in_query) {
			scan->path_end = index;
			if (scan->percent)
				scan->unsafe_path = 1; /* "%2" cut short */
		}
		http_end_segment(scan);
		if (!http_version_ok(scratch, scan, index)) {
			/* Too short to hold the version: the line goes on in the next segment. */
			if (index + 11 > scan->length)
				return 1;
			scan->bad = 1;
			return 1;
		}
		scan->phase = HTTP_PHASE_REQUEST_LINE_END;
		scan->skip_until = index + 10;
		return 0;
	}
	if (c < 0x21 || c >= 0x7f) {
		scan->bad = 1;
		return 1;
	}
	if (index == scan->start && c != '/') {
		scan->bad = 1; /* only origin-form targets ("/path"): no proxy forms, no "*" */
		return 1;
	}
	if (scan->in_query)
		return 0;
	if (scan->percent) {
		http_escape_byte(scan, c);
		return 0;
	}
	if (c == '?') {
		scan->path_end = index;
		http_end_segment(scan);
		scan->in_query = 1;
		return 0;
	}
	/* '#' never belongs in a request; ';' starts path parameters ("/..;/" is ".." to Tomcat
	 * and Jetty); '\' is '/' to some servers. */
	if (c == '#' || c == ';' || c == '\\')
		scan->unsafe_path = 1;
	if (c == '/') {
		/* "//": an empty segment, which servers merge or keep as they please. */
		if (index != scan->start && !scan->segment_length)
			scan->unsafe_path = 1;
		http_end_segment(scan);
	} else {
		scan->segment_length++;
		if (c == '.')
			scan->segment_dots++;
	}
	if (c == '%') {
		scan->percent = 2;
		scan->percent_value = 0;
	}
	return 0;
}

static __always_inline void http_name_byte(struct http_scan *scan, __u8 c)
{
	__u32 at = scan->name_length;

	if (at < 8)
		scan->name[0] |= (__u64)c << (8 * at);
	else if (at < 16)
		scan->name[1] |= (__u64)c << (8 * (at - 8));
	else if (at < 24)
		scan->name[2] |= (__u64)c << (8 * (at - 16));
	scan->name_length = at + 1;
}

static __always_inline __u32 http_header_kind_of(const struct http_scan *scan)
{
	if (scan->name_length == 4 && scan->name[0] == text_word("host", 4))
		return HTTP_HEADER_HOST;
	if (scan->name_length == 14 && scan->name[0] == text_word("content-", 8) &&
	    scan->name[1] == text_word("length", 6))
		return HTTP_HEADER_CONTENT_LENGTH;
	if (scan->name_length == 17 && scan->name[0] == text_word("transfer", 8) &&
	    scan->name[1] == text_word("-encodin", 8) && scan->name[2] == text_word("g", 1))
		return HTTP_HEADER_TRANSFER_ENCODING;
	return HTTP_HEADER_OTHER;
}

/* The header line's value ended (at '\r' or '\n'). */
static __always_inline void http_value_end(struct http_scan *scan, __u32 index)
{
	if (scan->header == HTTP_HEADER_HOST && !scan->host_end) {
		if (!scan->value_started)
			scan->host_start = index; /* "Host:" with nothing after it: empty */
		scan->host_end = index;
	}
	if (scan->header == HTTP_HEADER_CONTENT_LENGTH && !scan->value_ended) {
		scan->value_ended = 1;
		if (!scan->digits)
			scan->untrackable = 1;
	}
}

static __always_inline long http_value_byte(struct http_scan *scan, __u32 index, __u8 c)
{
	if (c == '\r' || c == '\n') {
		http_value_end(scan, index);
		if (c == '\n')
			scan->phase = HTTP_PHASE_LINE_START;
		return 0;
	}
	if (!scan->value_started) {
		if (c == ' ' || c == '\t')
			return 0;
		scan->value_started = 1;
		if (scan->header == HTTP_HEADER_HOST)
			scan->host_start = index;
	}
	if (scan->header == HTTP_HEADER_HOST) {
		/* The name ends at the port or at trailing space. */
		if (!scan->host_end && (c == ':' || c == ' ' || c == '\t'))
			scan->host_end = index;
		return 0;
	}
	if (scan->header == HTTP_HEADER_CONTENT_LENGTH) {
		if (c >= '0' && c <= '9' && !scan->value_ended) {
			/* Bounded before it is stored: a longer number must not wrap. */
			__u64 value = (__u64)scan->content_length * 10 + (c - '0');

			if (value > WEIR_HTTP_MAX_BODY) {
				scan->body_too_large = 1;
				value = WEIR_HTTP_MAX_BODY;
			}
			scan->content_length = value;
			if (++scan->digits > 10)
				scan->untrackable = 1;
		} else if (c == ' ' || c == '\t') {
			if (scan->digits)
				scan->value_ended = 1;
		} else {
			scan->untrackable = 1;
		}
	}
	return 0;
}

/* The first byte of a header line (or of the blank line that ends them). */
static __always_inline long http_line_start(struct http_scan *scan, __u32 index, __u8 c)
{
	if (c == '\r') {
		scan->phase = HTTP_PHASE_BLANK_LINE;
		return 0;
	}
	if (c == '\n') {
		scan->header_end = index + 1;
		scan->phase = HTTP_PHASE_DONE;
		return 1;
	}
	if (c == ' ' || c == '\t' || c == ':') {
		scan->bad = 1; /* obsolete line folding or an empty name could hide a header */
		return 1;
	}
	scan->phase = HTTP_PHASE_NAME;
	scan->name_length = 0;
	scan->name[0] = scan->name[1] = scan->name[2] = 0;
	http_name_byte(scan, ascii_lower(c));
	return 0;
}

static __always_inline long http_name_end(struct http_scan *scan)
{
	scan->header = http_header_kind_of(scan);
	scan->value_started = 0;
	scan->value_ended = 0;
	scan->phase = HTTP_PHASE_VALUE;
	if (scan->header == HTTP_HEADER_HOST) {
		if (scan->host_seen) {
			scan->bad = 1; /* two Host headers: servers disagree on which counts */
			return 1;
		}
		scan->host_seen = 1;
	} else if (scan->header == HTTP_HEADER_CONTENT_LENGTH) {
		/* Two Content-Lengths: request smuggling territory, whatever their values. */
		if (scan->length_seen)
			scan->untrackable = 1;
		scan->length_seen = 1;
		scan->content_length = 0;
		scan->digits = 0;
	} else if (scan->header == HTTP_HEADER_TRANSFER_ENCODING) {
		scan->untrackable = 1; /* chunked bodies end where only a body parser knows */
	}
	return 0;
}

/* bpf_loop's context: the scratch buffer, looked up once per request instead of per byte. */
struct http_scan_context {
	struct http_scratch *scratch;
};

static long http_scan_byte(__u32 step, void *loop_context)
{
	struct http_scratch *scratch = ((struct http_scan_context *)loop_context)->scratch;
	struct http_scan *scan;
	__u32 index;
	__u8 c;

	if (!scratch)
		return 1;
	scan = &scratch->scan;
	index = scan->start + step;
	if (index >= scan->length || index >= HTTP_SCAN_BYTES)
		return 1;
	if (index < scan->skip_until)
		return 0;
	c = scratch_at(scratch, index);
	switch (scan->phase) {
	case HTTP_PHASE_PATH:
		return http_path_byte(scan, scratch, index, c);
	case HTTP_PHASE_REQUEST_LINE_END:
		scan->phase = HTTP_PHASE_LINE_START; /* the '\n' http_version_ok saw */
		return 0;
	case HTTP_PHASE_LINE_START:
		return http_line_start(scan, index, c);
	case HTTP_PHASE_NAME:
		if (c == ':')
			return http_name_end(scan);
		if (c <= ' ' || c >= 0x7f) {
			scan->bad = 1;
			return 1;
		}
		http_name_byte(scan, ascii_lower(c));
		return 0;
	case HTTP_PHASE_VALUE:
		return http_value_byte(scan, index, c);
	case HTTP_PHASE_BLANK_LINE:
		if (c != '\n') {
			scan->bad = 1;
			return 1;
		}
		scan->header_end = index + 1;
		scan->phase = HTTP_PHASE_DONE;
		return 1;
	default:
		return 1;
	}
}

/* Copies the path and the (lowercased) host the scan located into scratch->request. */
static __always_inline void http_copy_fields(struct http_scratch *scratch,
					     const struct http_scan *scan)
{
	struct weir_http_request *request = &scratch->request;
	__u32 path_length = scan->path_end > scan->start ? scan->path_end - scan->start : 0;
	__u32 host_length = scan->host_end > scan->host_start ? scan->host_end - scan->host_start
							       : 0;

	if (path_length > WEIR_HTTP_PATH_BYTES) {
		request->flags |= WEIR_HTTP_FLAG_PATH_TRUNCATED;
		path_length = WEIR_HTTP_PATH_BYTES;
	}
	if (host_length > WEIR_HTTP_HOST_BYTES) {
		request->flags |= WEIR_HTTP_FLAG_HOST_TRUNCATED;
		host_length = WEIR_HTTP_HOST_BYTES;
	}
	request->path_length = path_length;
	request->host_length = host_length;
#pragma unroll
	for (int i = 0; i < WEIR_HTTP_PATH_BYTES; i++)
		if (i < path_length)
			request->path[i] = scratch_at(scratch, scan->start + i);
#pragma unroll
	for (int i = 0; i < WEIR_HTTP_HOST_BYTES; i++)
		if (i < host_length)
			request->host[i] = ascii_lower(scratch_at(scratch, scan->host_start + i));
}

struct http_request_parse {
	enum http_parse_result result;
	__u8 unsafe_path;
	__u32 header_length;  /* request line + headers + blank line */
	__u32 content_length; /* body bytes that follow them */
};

/* Parses the request at the start of scratch->data (length bytes copied from a payload of
 * payload_length); fills scratch->request. */
static __always_inline struct http_request_parse http_parse_request(struct http_scratch *scratch,
								    __u32 length)
{
	struct http_request_parse parse = { .result = HTTP_PARSE_NOT_REQUEST };
	struct http_scan *scan = &scratch->scan;
	struct http_scan_context loop_context = { .scratch = scratch };
	__u32 start = 0;
	__u8 method;

	__builtin_memset(&scratch->request, 0, sizeof(scratch->request));
	__builtin_memset(scan, 0, sizeof(*scan));
	method = http_method_of(scratch, length, &start);
	if (method == WEIR_HTTP_METHOD_NONE)
		return parse;
	scratch->request.method = method;
	scan->start = start;
	scan->length = length;
	bpf_loop(HTTP_SCAN_BYTES, http_scan_byte, &loop_context, 0);
	if (scan->bad)
		return parse;
	http_copy_fields(scratch, scan);
	parse.unsafe_path = scan->unsafe_path;
	if (!scan->header_end) {
		parse.result = HTTP_PARSE_INCOMPLETE;
		return parse;
	}
	parse.header_length = scan->header_end;
	parse.content_length = scan->content_length;
	parse.result = scan->untrackable      ? HTTP_PARSE_UNTRACKABLE
		       : scan->body_too_large ? HTTP_PARSE_BODY_TOO_LARGE
					      : HTTP_PARSE_REQUEST;
	return parse;
}

/* "HTTP/1.x NNN": returns the status, or 0 when the payload does not start a response. */
static __always_inline __u16 http_parse_status(const struct http_scratch *scratch, __u32 length)
{
	__u64 word;
	__u16 status = 0;

	if (length < 12)
		return 0;
	__builtin_memcpy(&word, scratch->data, 8);
	if (!word_starts_with(word, "HTTP/1.", 7) ||
	    (scratch->data[7] != '0' && scratch->data[7] != '1') || scratch->data[8] != ' ')
		return 0;
#pragma unroll
	for (int i = 9; i < 12; i++) {
		__u8 c = scratch->data[i];
		if (c < '0' || c > '9')
			return 0;
		status = status * 10 + (c - '0');
	}
	return status >= 100 && status <= 599 ? status : 0;
}

#endif
