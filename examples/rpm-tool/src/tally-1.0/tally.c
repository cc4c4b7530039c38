/* tally: count lines, words and bytes of stdin, and say which libc runs it. */
#include <ctype.h>
#include <gnu/libc-version.h>
#include <stdio.h>

int main(void) {
    long lines = 0, words = 0, bytes = 0;
    int c, in_word = 0;
    while ((c = getchar()) != EOF) {
        bytes++;
        if (c == '\n') lines++;
        if (isspace(c)) in_word = 0;
        else if (!in_word) { in_word = 1; words++; }
    }
    printf("tally 1.0 (glibc %s): %ld lines, %ld words, %ld bytes\n",
           gnu_get_libc_version(), lines, words, bytes);
    return 0;
}
