# Declaration-side benchmarks: ingest (parse + validate) and scoring throughput.
foreach(b ingest_bench score_bench)
  add_executable(${b} ${CMAKE_CURRENT_LIST_DIR}/${b}.cc)
  target_link_libraries(${b} PRIVATE clearsight nlohmann_json::nlohmann_json)
  target_include_directories(${b} PRIVATE ${PROJECT_SOURCE_DIR}/bench)
  target_compile_definitions(${b} PRIVATE CS_DATA="${PROJECT_SOURCE_DIR}/data/public")
endforeach()
