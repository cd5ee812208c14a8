/*
 * kernel.h - what the C EXNPI drivers need beyond examples/kernel-driver-c/ddk.h: a system work
 * item (the provider's pending detach) and a bugcheck, spelled as wdm.h spells them.
 */
#ifndef EXNPI_KERNEL_H
#define EXNPI_KERNEL_H

#include "../../kernel-driver-c/ddk.h"

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY;

typedef VOID(NTAPI WORKER_THREAD_ROUTINE)(PVOID Parameter);
typedef WORKER_THREAD_ROUTINE *PWORKER_THREAD_ROUTINE;

typedef struct _WORK_QUEUE_ITEM {
    LIST_ENTRY List;
    PWORKER_THREAD_ROUTINE WorkerRoutine;
    PVOID Parameter;
} WORK_QUEUE_ITEM, *PWORK_QUEUE_ITEM;

typedef enum _WORK_QUEUE_TYPE { CriticalWorkQueue, DelayedWorkQueue } WORK_QUEUE_TYPE;

#define ExInitializeWorkItem(Item, Routine, Context)                                          \
    do {                                                                                       \
        (Item)->WorkerRoutine = (Routine);                                                     \
        (Item)->Parameter = (Context);                                                         \
        (Item)->List.Flink = NULL;                                                             \
    } while (0)

NTKERNELAPI VOID NTAPI ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType);
NTKERNELAPI VOID NTAPI KeBugCheckEx(ULONG BugCheckCode, SIZE_T P1, SIZE_T P2, SIZE_T P3,
                                    SIZE_T P4);
NTKERNELAPI PVOID NTAPI IoGetCurrentProcess(VOID);

#if defined(_WIN64)
_Static_assert(sizeof(WORK_QUEUE_ITEM) == 32, "WORK_QUEUE_ITEM");
#else
_Static_assert(sizeof(WORK_QUEUE_ITEM) == 16, "WORK_QUEUE_ITEM");
#endif

#define TRACE(Message) DbgPrint(Message "\n")
#define TRACE_VALUE(Message, Value) DbgPrint(Message " %u\n", (ULONG)(Value))

#endif /* EXNPI_KERNEL_H */
