#include <stdio.h>
#include <string.h>

#include "vigil/vigil.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("vigil %s\n", VG_VERSION);
    return 0;
}
