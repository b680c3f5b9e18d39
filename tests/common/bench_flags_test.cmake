# Runs a benchmark with one command line and checks its exit code and output:
#   cmake -DBENCH=<exe> "-DARGS=--bogus" -DEXIT=2 "-DEXPECT=unknown flag --bogus" -P bench_flags_test.cmake
# EXPECT is a regular expression matched against stdout and stderr together.
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${BENCH} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 30)
if(NOT rc STREQUAL EXIT)
  message(FATAL_ERROR "${BENCH} ${ARGS}: exit ${rc}, expected ${EXIT}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "${BENCH} ${ARGS}: output does not match '${EXPECT}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
