/* test_io_map.c: the io.SIGNAL value syntax (io_map.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "io_map.h"

static void parses_every_kind_with_its_channel(void **state)
{
	const char *why = NULL;
	struct io_map m;

	assert_int_equal(io_map_parse("out:7", true, &m, &why), 0);
	assert_int_equal(m.kind, IO_MAP_OUT);
	assert_int_equal(m.channel, 7);
	assert_int_equal(io_map_parse("in:255", false, &m, &why), 0);
	assert_int_equal(m.kind, IO_MAP_IN);
	assert_int_equal(m.channel, 255);
	assert_int_equal(io_map_parse("count:0", false, &m, &why), 0);
	assert_int_equal(m.kind, IO_MAP_COUNT);
	assert_int_equal(io_map_parse("none", false, &m, &why), 0);
	assert_int_equal(m.kind, IO_MAP_NONE);
	assert_int_equal(io_map_parse("", true, &m, &why), 0);
	assert_int_equal(m.kind, IO_MAP_UNSET);
}

static void gpio_flags_are_parsed_and_bias_is_for_inputs_only(void **state)
{
	const char *why = NULL;
	struct io_map m;

	assert_int_equal(io_map_parse("in:17:low:pullup", false, &m, &why), 0);
	assert_true(m.active_low);
	assert_int_equal(m.bias, IO_MAP_BIAS_PULL_UP);
	assert_int_equal(m.channel, 17);
	assert_int_equal(io_map_parse("out:4:low", true, &m, &why), 0);
	assert_true(m.active_low);
	assert_int_equal(io_map_parse("out:4:pullup", true, &m, &why), -EINVAL);
	assert_int_equal(io_map_parse("in:4:low:low", false, &m, &why), -EINVAL);
	assert_int_equal(io_map_parse("in:4:pullup:pulldown", false, &m, &why), -EINVAL);
}

static void a_line_name_stands_in_for_the_channel(void **state)
{
	const char *why = NULL;
	struct io_map m;

	assert_int_equal(io_map_parse("in:PASS_A-1.x:low:pullup", false, &m, &why), 0);
	assert_string_equal(m.name, "PASS_A-1.x");
	assert_int_equal(m.channel, 0);
	assert_true(m.active_low);
	assert_int_equal(m.bias, IO_MAP_BIAS_PULL_UP);
	assert_int_equal(io_map_parse("out:relay1", true, &m, &why), 0);
	assert_string_equal(m.name, "relay1");
	assert_int_equal(io_map_parse("out:7", true, &m, &why), 0);
	assert_string_equal(m.name, "");
	/* 31 characters fit (the uAPI's 32 with the NUL), 32 do not */
	assert_int_equal(io_map_parse("out:abcdefghijklmnopqrstuvwxyz01234", true, &m, &why), 0);
	assert_int_equal(strlen(m.name), 31);
	assert_int_equal(io_map_parse("out:abcdefghijklmnopqrstuvwxyz012345", true, &m, &why),
			 -EINVAL);
	assert_string_equal(m.name, "");
}

static void rejects_malformed_values_and_the_wrong_direction(void **state)
{
	static const char *const bad[] = {
	    "out:",   "out:256", "out:1x", "coil:1",  "out:-1",	 "out:00001", "out:1:",	   "OUT:1",
	    " out:1", "none:1",	 "out:_a", "out:a b", "out:a/b", "out:a:",    "out:a:high"};
	const char *why = NULL;
	struct io_map m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(io_map_parse(bad[i], true, &m, &why), -EINVAL);
		assert_non_null(why);
		assert_int_equal(m.kind, IO_MAP_UNSET);
	}
	assert_int_equal(io_map_parse("in:1", true, &m, &why), -EINVAL);
	assert_string_equal(why, "an output takes none or out:N");
	assert_int_equal(io_map_parse("out:1", false, &m, &why), -EINVAL);
	assert_string_equal(why, "an input takes none, in:N or count:N");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_every_kind_with_its_channel),
	    cmocka_unit_test(gpio_flags_are_parsed_and_bias_is_for_inputs_only),
	    cmocka_unit_test(a_line_name_stands_in_for_the_channel),
	    cmocka_unit_test(rejects_malformed_values_and_the_wrong_direction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
