/*
 * The offer handshake of csp's alternation (csp-core/src/alt), checked
 * with spin: `scripts/check-alt-model.sh`.
 *
 * Two alternations A0 and A1 and plain readers P0, P1. Alternation a offers
 * a value on rendezvous channel a (an output guard) and reads channel
 * 1 - a (an input guard), so each can take the other's offer while its own
 * is out: both sides alternate, and the two claim words must be claimed
 * in a fixed order. Each alternation may also time out. P_c reads channel
 * c with a plain read (or gives up).
 *
 * Abstractions: a channel is its lock and one slot (the offer of its
 * owner); waiting and wake-ups are busy re-scans (the real code sleeps on
 * an event that every change moves, and NUDGE/renotify exist only to
 * deliver those wake-ups); epochs are left out (one selection each).
 *
 * Checked: a message is taken at most once (assert in take); every process
 * ends (no invalid end state: nobody waits forever on a BUSY word); and at
 * the end each alternation's outcome matches the channels: its write
 * completed iff its offer was taken, exactly once; what it read was the
 * other's offer, and that one's owner knows its write completed.
 */

#define IDLE    0
#define WAITING 1
#define BUSY    2
#define CHOSEN  3

#define SELF    0      /* CHOSEN payload: the owner chose; else channel + 1 */

#define GOT     0
#define BSY     1
#define LOST    2

#define WROTE   1      /* outcomes */
#define READ    2
#define TIMEOUT 3

byte word[2];          /* claim words of A0 and A1 */
byte pay[2];           /* their CHOSEN payloads */
bool lk[2];            /* channel locks */
bool offer[2];          /* channel c's slot holds A_c's offer */
byte taken[2];         /* times the offer on channel c was taken */
byte result[2];        /* outcome of A0, A1 */
bool plain_got[2];     /* P_c took channel c's offer */

inline lock(c)   { atomic { !lk[c] -> lk[c] = 1 } }
inline unlock(c) { lk[c] = 0 }

/* CAS word[o]: WAITING -> st with payload p. */
inline claim(o, st, p, r) {
  atomic {
    if
    :: word[o] == WAITING -> word[o] = st; pay[o] = p; r = GOT
    :: word[o] == BUSY    -> r = BSY
    :: else               -> r = LOST
    fi
  }
}

/* Take the offer in channel c's slot (the taker holds lock c). */
inline take(c) {
  assert(lk[c] && offer[c]);
  offer[c] = 0;
  taken[c]++;
  assert(taken[c] == 1)
}

proctype Alter(byte a) {
  byte other = 1 - a;
  byte r, r2;

  /* Pass 1: not open yet, nothing posted: a plain take of the other's
     offer (one claim: nobody can claim us). */
  lock(other);
  if
  :: offer[other] ->
     claim(other, CHOSEN, other + 1, r);
     if
     :: r == GOT -> take(other); result[a] = READ
     :: else -> skip
     fi
  :: else -> skip
  fi;
  unlock(other);
  if
  :: result[a] == READ -> goto done
  :: else -> skip
  fi;

  /* Pass 2: open the word, then post the offer. */
  word[a] = WAITING;
  lock(a);
  offer[a] = 1;
  unlock(a);

  do
  :: word[a] == CHOSEN && pay[a] != SELF ->
     /* A reader took our offer. */
     result[a] = WROTE;
     break
  :: word[a] == WAITING ->
     /* Scan: read the other's offer, claiming both words in index order,
        the first tentatively (BUSY). */
     lock(other);
     if
     :: offer[other] ->
        if
        :: a < other ->
           claim(a, BUSY, 0, r);
           if
           :: r == GOT ->
              claim(other, CHOSEN, other + 1, r2);
              if
              :: r2 == GOT -> word[a] = CHOSEN; pay[a] = SELF; take(other); result[a] = READ
              :: else -> word[a] = WAITING   /* revert */
              fi
           :: else -> skip
           fi
        :: else ->
           claim(other, BUSY, 0, r);
           if
           :: r == GOT ->
              claim(a, CHOSEN, SELF, r2);
              if
              :: r2 == GOT -> word[other] = CHOSEN; pay[other] = other + 1; take(other); result[a] = READ
              :: else -> word[other] = WAITING   /* revert */
              fi
           :: else -> skip
           fi
        fi
     :: else -> skip
     fi;
     unlock(other);
     if
     :: result[a] == READ -> break
     :: else -> skip
     fi
  :: word[a] == WAITING ->
     /* The timeout: claim our own word. */
     claim(a, CHOSEN, SELF, r);
     if
     :: r == GOT -> result[a] = TIMEOUT; break
     :: else -> skip
     fi
  od;

  /* Withdraw the offer if it is still there. */
  lock(a);
  if
  :: offer[a] -> assert(result[a] != WROTE); offer[a] = 0
  :: else -> assert(result[a] == WROTE)
  fi;
  unlock(a);
done:
  skip
}

proctype Plain(byte c) {
  byte r;
  do
  :: lock(c);
     if
     :: offer[c] ->
        claim(c, CHOSEN, c + 1, r);
        if
        :: r == GOT -> take(c); plain_got[c] = 1; unlock(c); break
        :: else -> unlock(c)
        fi
     :: else -> unlock(c)
     fi
  :: break
  od
}

init {
  atomic {
    run Alter(0);
    run Alter(1);
    run Plain(0);
    run Plain(1)
  };
  (_nr_pr == 1);
  /* A write completed iff its offer was taken (once). */
  assert((result[0] == WROTE) == (taken[0] == 1));
  assert((result[1] == WROTE) == (taken[1] == 1));
  /* Who took each offer. */
  assert(taken[0] == plain_got[0] + (result[1] == READ));
  assert(taken[1] == plain_got[1] + (result[0] == READ));
  /* Everybody decided. */
  assert(result[0] != 0 && result[1] != 0);
  assert(word[0] == IDLE || word[0] == CHOSEN);
  assert(word[1] == IDLE || word[1] == CHOSEN)
}
