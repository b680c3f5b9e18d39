# Postal and express adapters: EAD / H7 items parsed and decided, beside native CSV.
add_executable(postal_bench ${CMAKE_CURRENT_LIST_DIR}/postal_bench.cc)
target_link_libraries(postal_bench PRIVATE clearsight nlohmann_json::nlohmann_json)
target_include_directories(postal_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench)
target_compile_definitions(postal_bench PRIVATE CS_DATA="${PROJECT_SOURCE_DIR}/data/public")
