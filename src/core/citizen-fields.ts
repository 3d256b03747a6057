/**
 * Citizen record fields a client can be allowed to see (CitizenField in the contract). Kept in a
 * file of its own, free of imports, so that the config schema can read the list without loading
 * the citizen use cases.
 */
export const CITIZEN_FIELD_NAMES = [
  'oldIdNumber', 'fullName', 'familyName', 'middleName', 'givenName', 'gender', 'dateOfBirth', 'ethnicity',
  'religion', 'nationality', 'maritalStatus', 'bloodType', 'birthRegistrationPlace', 'hometown',
  'permanentAddress', 'currentAddress', 'father', 'mother', 'spouse', 'householdHead',
] as const;
