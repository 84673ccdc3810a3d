/* One function per CNI verb. Each returns 0 after printing its result (if any) on stdout, or
 * -1 with err filled for main to print the spec's error object. */
#ifndef WEIR_CNI_COMMANDS_H
#define WEIR_CNI_COMMANDS_H

#include "config.h"
#include "errors.h"

int cmd_add(const struct cni_config *config, const struct cni_environment *env,
	    struct cni_error *err);
int cmd_del(const struct cni_config *config, const struct cni_environment *env,
	    struct cni_error *err);
int cmd_check(const struct cni_config *config, const struct cni_environment *env,
	      struct cni_error *err);
int cmd_status(const struct cni_config *config, struct cni_error *err);
int cmd_gc(const struct cni_config *config, struct cni_error *err);

#endif
