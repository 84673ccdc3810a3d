/* --http-visibility: all, none, or a list of ports; anything else is refused with the input. */
#include <string.h>

#include "datapath_config.h"
#include "test.h"
#include "unit.h"

static void visibility_words_and_port_lists(void)
{
	struct datapath_settings settings = { 0 };
	char errbuf[160];

	ASSERT_EQ(http_visibility_parse("all", &settings, errbuf, sizeof(errbuf)), 0, "all");
	ASSERT_EQ(settings.http_visibility, WEIR_HTTP_VISIBILITY_ALL_PORTS, "all ports");
	ASSERT_EQ(http_visibility_parse("none", &settings, errbuf, sizeof(errbuf)), 0, "none");
	ASSERT_EQ(settings.http_visibility, WEIR_HTTP_VISIBILITY_OFF, "off");
	ASSERT_EQ(http_visibility_parse("80,8080", &settings, errbuf, sizeof(errbuf)), 0, "list");
	ASSERT_EQ(settings.http_visibility, WEIR_HTTP_VISIBILITY_LISTED_PORTS, "listed");
	ASSERT_EQ(settings.http_port_count, 2, "two ports");
	ASSERT_EQ(settings.http_ports[1], 8080, "second port");
}

static void bad_visibility_is_refused_by_name(void)
{
	static const char *const bad[] = { "", "some", "80,", ",80", "0", "65536", "80;81", "8o" };
	struct datapath_settings settings = { 0 };
	char errbuf[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errbuf[0] = 0;
		ASSERT_EQ(http_visibility_parse(bad[i], &settings, errbuf, sizeof(errbuf)), -1,
			  bad[i]);
		ASSERT_TRUE(strstr(errbuf, "--http-visibility") != NULL, "names the flag");
	}
}

const struct test_case datapath_config_tests[] = {
	{ "visibility_words_and_port_lists", visibility_words_and_port_lists },
	{ "bad_visibility_is_refused_by_name", bad_visibility_is_refused_by_name },
};
const size_t datapath_config_tests_count =
	sizeof(datapath_config_tests) / sizeof(datapath_config_tests[0]);
