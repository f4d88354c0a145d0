// The tablet checklist form: enhanced by the offline-capable script (see docs in this file's successor).
