# X-ray benchmarks: analysis (fast analyzer vs the per-pixel reference, 1 and 2 threads, two sizes)
# and simulation throughput.
add_executable(xray_analyze_bench ${CMAKE_CURRENT_LIST_DIR}/xray_analyze_bench.cc)
target_link_libraries(xray_analyze_bench PRIVATE clearsight)
add_executable(xray_simulate_bench ${CMAKE_CURRENT_LIST_DIR}/xray_simulate_bench.cc)
target_link_libraries(xray_simulate_bench PRIVATE clearsight)
# Full image analysis per scan: analysis + threat detector + manifest check (the committed model),
# 1 and 2 threads, time per stage, the analysis alone beside it.
add_executable(xray_detect_bench ${CMAKE_CURRENT_LIST_DIR}/xray_detect_bench.cc)
target_link_libraries(xray_detect_bench PRIVATE clearsight)
target_compile_definitions(xray_detect_bench PRIVATE CS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# One training step of the detector's network: glibc's allocator defaults and contiguous layout
# (the baseline) against large freed blocks kept and channels-last layout, each in a child process.
add_executable(xray_train_bench ${CMAKE_CURRENT_LIST_DIR}/xray_train_bench.cc)
target_link_libraries(xray_train_bench PRIVATE clearsight)
target_include_directories(xray_train_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench)
