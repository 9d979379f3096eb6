/*
 * clicomplete: shell completion from the subcommand and option tables, for
 * client/eenplan.bash-completion (`eenplan __complete WORDS...`).
 */
#ifndef EENPLAN_CLICOMPLETE_H
#define EENPLAN_CLICOMPLETE_H

#include <stdio.h>

/*
 * Prints the candidates for the last of the n words (the one being typed,
 * possibly empty) given the n-1 before it (the words after "eenplan"), one
 * per line. A lone line "__files__" or "__dirs__" asks the shell for file
 * or directory names instead. Demo names after --as come from the PKI's
 * cast.txt (--pki, EENPLAN_PKI or certs/demo) when it is there.
 */
void	clicomplete(FILE *f, int n, char **words);

#endif
