# kp_add_service(<name> SOURCES <files...> [LIBRARY <lib>] [LIBS <libs...>])
# The targets of one service, called from services/<name>/CMakeLists.txt: the executable
# kumppani-<name>, built from main.c and SOURCES and linked with kp_common and LIBS, with the
# service's directory on its include path, warnings on, installed to bin and registered in KP_BINS
# so that the integration tests can start it. With LIBRARY, SOURCES (every file but main.c) form
# the static library <lib> instead, which the executable links and unit tests can link too (its
# include directory and libraries are then PUBLIC).
function(kp_add_service name)
  cmake_parse_arguments(S "" "LIBRARY" "SOURCES;LIBS" ${ARGN})
  set(exe kumppani-${name})
  if(S_LIBRARY)
    add_library(${S_LIBRARY} STATIC ${S_SOURCES})
    target_include_directories(${S_LIBRARY} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${S_LIBRARY} PUBLIC kp_common ${S_LIBS})
    kp_target_warnings(${S_LIBRARY})
    add_executable(${exe} main.c)
    target_link_libraries(${exe} PRIVATE ${S_LIBRARY})
  else()
    add_executable(${exe} main.c ${S_SOURCES})
    target_include_directories(${exe} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${exe} PRIVATE kp_common ${S_LIBS})
  endif()
  kp_target_warnings(${exe})
  install(TARGETS ${exe} RUNTIME DESTINATION bin)
  set_property(GLOBAL APPEND PROPERTY KP_BINS ${exe})
endfunction()
