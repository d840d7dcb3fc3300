# kp_protoc_c(<out-var> <proto files...>): runs protoc-c at build time; the generated sources
# live in the build tree and are never committed.
function(kp_protoc_c out_var)
  set(srcs)
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${KP_PROTO_ROOT} ${abs})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(c ${KP_PROTO_OUT}/${stem}.pb-c.c)
    set(h ${KP_PROTO_OUT}/${stem}.pb-c.h)
    add_custom_command(
      OUTPUT ${c} ${h}
      COMMAND ${PROTOC_C} --c_out=${KP_PROTO_OUT} -I ${KP_PROTO_ROOT} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${rel}"
      VERBATIM)
    list(APPEND srcs ${c})
  endforeach()
  set(${out_var} ${srcs} PARENT_SCOPE)
endfunction()
