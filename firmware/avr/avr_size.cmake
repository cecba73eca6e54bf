# Reports the AVR firmware's flash and RAM use (avr-size) and fails the build,
# removing the ELF so the next build tries again, when it is over budget.
#   cmake -DSIZE=avr-size -DELF=iob.elf -DFLASH_MAX=16384 -DRAM_MAX=1024 -P avr_size.cmake
execute_process(COMMAND ${SIZE} ${ELF} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	file(REMOVE ${ELF})
	message(FATAL_ERROR "avr-size failed on ${ELF}")
endif()
# Berkeley format: a header line, then "text data bss dec hex filename".
string(REGEX MATCH "\n[ \t]*([0-9]+)[ \t]+([0-9]+)[ \t]+([0-9]+)" _ "${out}")
math(EXPR flash "${CMAKE_MATCH_1} + ${CMAKE_MATCH_2}")
math(EXPR ram "${CMAKE_MATCH_2} + ${CMAKE_MATCH_3}")
message("iob.elf (atmega328p): flash ${flash} of ${FLASH_MAX} bytes, RAM ${ram} of ${RAM_MAX} bytes (static)")
if(flash GREATER FLASH_MAX OR ram GREATER RAM_MAX)
	file(REMOVE ${ELF})
	message(FATAL_ERROR "AVR firmware over budget")
endif()
