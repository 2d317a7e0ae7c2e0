/* empty.c - does nothing: its run time is each emulator's start-up and exit cost. */
int main(void)
{
    return 0;
}
