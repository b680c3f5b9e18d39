# X-ray benchmarks: analysis (fast analyzer vs the per-pixel reference, 1 and 2 threads, two sizes)
# and simulation throughput.
add_executable(xray_analyze_bench ${CMAKE_CURRENT_LIST_DIR}/xray_analyze_bench.cc)
target_link_libraries(xray_analyze_bench PRIVATE clearsight)
add_executable(xray_simulate_bench ${CMAKE_CURRENT_LIST_DIR}/xray_simulate_bench.cc)
target_link_libraries(xray_simulate_bench PRIVATE clearsight)
