# One warning set for every target we own (STYLE.md, "Habits").
set(KP_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wvla -Wimplicit-fallthrough)
if(KP_WERROR)
  list(APPEND KP_WARNINGS -Werror)
endif()
add_compile_definitions(_POSIX_C_SOURCE=200809L)

function(kp_target_warnings target)
  target_compile_options(${target} PRIVATE ${KP_WARNINGS})
endfunction()
