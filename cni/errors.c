/* The spec's error object, printed on stdout; the message also goes to the log. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "log.h"

static const char *code_summary(int code)
{
	switch (code) {
	case CNI_ERR_INCOMPATIBLE_VERSION: return "incompatible CNI version";
	case CNI_ERR_UNSUPPORTED_FIELD: return "unsupported field in network configuration";
	case CNI_ERR_UNKNOWN_CONTAINER: return "container unknown or does not exist";
	case CNI_ERR_INVALID_ENVIRONMENT: return "invalid necessary environment variables";
	case CNI_ERR_IO: return "I/O failure";
	case CNI_ERR_DECODE: return "failed to decode content";
	case CNI_ERR_INVALID_CONFIG: return "invalid network config";
	case CNI_ERR_TRY_AGAIN_LATER: return "try again later";
	case CNI_ERR_NOT_AVAILABLE: return "plugin not available";
	case CNI_ERR_LIMITED_CONNECTIVITY: return "limited connectivity";
	case WEIR_ERR_KERNEL: return "kernel operation failed";
	case WEIR_ERR_IPAM_EXHAUSTED: return "no free address";
	case WEIR_ERR_CHECK_MISMATCH: return "pod wiring differs from prevResult";
	default: return "error";
	}
}

int cni_error_set(struct cni_error *err, int code, const char *details_format, ...)
{
	va_list args;

	err->code = code;
	va_start(args, details_format);
	vsnprintf(err->details, sizeof(err->details), details_format, args);
	va_end(args);
	/* The message names the failure and its input; details carries the same, so a runtime
	 * that shows only msg still tells the operator what to fix. */
	snprintf(err->msg, sizeof(err->msg), "%s: %s", code_summary(code), err->details);
	return -1;
}

void cni_error_message(struct cni_error *err, const char *msg)
{
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

void cni_error_print(const struct cni_error *err, const char *cni_version)
{
	cJSON *object = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(object, "cniVersion", cni_version && *cni_version ? cni_version
										    : "1.1.0");
	cJSON_AddNumberToObject(object, "code", err->code);
	cJSON_AddStringToObject(object, "msg", err->msg);
	cJSON_AddStringToObject(object, "details", err->details);
	text = cJSON_Print(object);
	if (text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	log_error("code %d: %s", err->code, err->msg);
	cJSON_free(text);
	cJSON_Delete(object);
}
