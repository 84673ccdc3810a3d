/* CNI error objects: every failure leaves weir-cni as {cniVersion, code, msg, details}. */
#ifndef WEIR_CNI_ERRORS_H
#define WEIR_CNI_ERRORS_H

#include <stddef.h>

/* The spec's well-known codes. */
enum cni_error_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENVIRONMENT = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN_LATER = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_LIMITED_CONNECTIVITY = 51,
	/* weir's own codes, 100 and up as the spec reserves them for plugins. */
	WEIR_ERR_KERNEL = 100,	       /* a netlink, sysctl or bpf operation failed */
	WEIR_ERR_IPAM_EXHAUSTED = 101, /* no free address left in the subnet */
	WEIR_ERR_CHECK_MISMATCH = 102, /* CHECK found wiring that differs from prevResult */
};

struct cni_error {
	int code;
	char msg[512];
	char details[1024];
};

/* Fills err and returns -1, so error paths read `return cni_error_set(err, ...)`. */
int cni_error_set(struct cni_error *err, int code, const char *details_format, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets msg; details stay as given. */
void cni_error_message(struct cni_error *err, const char *msg);
void cni_error_print(const struct cni_error *err, const char *cni_version);

#endif
