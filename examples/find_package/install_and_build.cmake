# cmake -DBUILD_DIR=... -DEXAMPLE_DIR=... -DWORK_DIR=... -DCXX_COMPILER=... -P this file
# Installs the SDK component of BUILD_DIR into WORK_DIR/prefix, builds the example project
# in EXAMPLE_DIR against it, runs it, and checks the pkg-config file.

function(run_step description)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${description} failed (${status}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

run_step("installing the SDK" ${CMAKE_COMMAND} --install ${BUILD_DIR} --component sdk --prefix ${prefix})
run_step("configuring the example against the installed SDK"
  ${CMAKE_COMMAND} -S ${EXAMPLE_DIR} -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
run_step("building the example" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("running the example" ${WORK_DIR}/build/mpesa_app)
if(NOT step_output STREQUAL "2547*****149 ws_CO_1\n")
  message(FATAL_ERROR "the example printed \"${step_output}\"")
endif()

file(GLOB_RECURSE pc_files ${prefix}/*/mpesa_stk.pc)
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "expected one installed mpesa_stk.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
run_step("reading mpesa_stk.pc" pkg-config --cflags --libs mpesa_stk)
string(REGEX MATCH "-I([^ \n]+)" include_flag "${step_output}")
if(NOT step_output MATCHES "-lmpesa_sdk" OR NOT EXISTS "${CMAKE_MATCH_1}/mpesa/stk_client.hpp")
  message(FATAL_ERROR "pkg-config gave \"${step_output}\", which misses the installed SDK")
endif()
message(STATUS "installed SDK found and linked from ${prefix}")
