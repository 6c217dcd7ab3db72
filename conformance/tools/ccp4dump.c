/* ccp4dump: read an MRC/CCP4 map with the CCP4 C library (libccp4c) and dump it.
 *
 * usage: ccp4dump IN OUT
 * Prints "nx ny nz mode itemsize" (libccp4's view of the header) on stdout and writes
 * every section, as libccp4 returns it (native byte order), to OUT.  The buffer is sized
 * by libccp4's own item size for the mode, so a mode libccp4 misreads (6 = int32 there)
 * shows up as an error or as wrong bytes, never as a buffer overrun.  Exit status:
 * 0 ok, 2 open failed, 3 unsupported mode, 4 section read failed, 5 usage or output. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <ccp4/cmaplib.h>

static int item_size(unsigned int mode) {
  switch (mode) {
    case 0: return 1;  /* int8 */
    case 1: return 2;  /* int16 */
    case 2: return 4;  /* float32 */
    case 3: return 4;  /* complex int16 */
    case 4: return 8;  /* complex float32 */
    case 6: return 4;  /* libccp4: CCP4_INT32 = 6 */
    default: return 0;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: ccp4dump IN OUT\n"); return 5; }
  CMMFile *map = (CMMFile *)ccp4_cmap_open(argv[1], O_RDONLY);
  if (map == NULL) { fprintf(stderr, "ccp4dump: cannot open %s\n", argv[1]); return 2; }
  int dim[3];
  ccp4_cmap_get_dim(map, dim);
  unsigned int mode = ccp4_cmap_get_datamode(map);
  int size = item_size(mode);
  printf("%d %d %d %u %d\n", dim[0], dim[1], dim[2], mode, size);
  fflush(stdout);
  if (size == 0) { fprintf(stderr, "ccp4dump: mode %u not handled\n", mode); return 3; }
  size_t section = (size_t)dim[0] * (size_t)dim[1] * (size_t)size;
  void *buffer = malloc(section ? section : 1);
  FILE *out = fopen(argv[2], "wb");
  if (buffer == NULL || out == NULL) { fprintf(stderr, "ccp4dump: no buffer/output\n"); return 5; }
  for (int z = 0; z < dim[2]; ++z) {
    int got = ccp4_cmap_read_section(map, buffer);
    if (got != 1) {
      fprintf(stderr, "ccp4dump: section %d could not be read\n", z);
      return 4;
    }
    fwrite(buffer, 1, section, out);
  }
  fclose(out);
  ccp4_cmap_close(map);
  return 0;
}
