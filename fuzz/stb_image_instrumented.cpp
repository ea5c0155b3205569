// stb_image compiled into the fuzz targets, from the same header as Debian's libstb (which the
// library links): the targets' own definitions take precedence over the shared library's, so
// the fuzzer sees coverage inside the PNG, GIF and BMP decoders, and the sanitizers check them.
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
