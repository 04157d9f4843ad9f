# Fails when README.md does not contain examples/push_payment.cpp verbatim, so the SDK
# example a reader copies from the README is the one CI compiles.
#   cmake -DREADME=README.md -DEXAMPLE=examples/push_payment.cpp -P readme_example.cmake
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" position)
if(position EQUAL -1)
  message(FATAL_ERROR "README.md does not contain ${EXAMPLE} verbatim: paste the file into the "
                      "README's SDK section again")
endif()
